package main

// Reading Hubble flow files, as tighten's src/flows/file.rs does: one JSON
// object per line, either a GetFlowsResponse (`hubble observe -o jsonpb`) or a
// bare Flow (`-o json`). Field names may be protobuf's snake_case names or
// their lowerCamelCase JSON names; integers may be numbers or strings.

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"strconv"
	"strings"
)

// endpoint is one side of a flow as Hubble reports it.
type endpoint struct {
	Identity    uint64
	Namespace   string
	Labels      []string
	PodName     string
	ClusterName string
	IP          string
	// Names are the flow's source_names / destination_names for this side
	// (the DNS names Cilium's DNS proxy saw resolve to IP).
	Names []string
}

// flowRecord is what the oracle needs of one flow.
type flowRecord struct {
	Line     int // 1-based line in the file
	Src, Dst endpoint
	// L4 is "TCP", "UDP", "SCTP", "ICMPv4", "ICMPv6", or "" when the flow has
	// no (known) layer 4.
	L4      string
	Dport   uint64
	IsReply bool
}

// object is a JSON object whose fields are looked up under several names.
type object map[string]json.RawMessage

func (o object) raw(names ...string) (json.RawMessage, bool) {
	for _, n := range names {
		if v, ok := o[n]; ok && !isNull(v) {
			return v, true
		}
	}
	return nil, false
}

func isNull(v json.RawMessage) bool {
	return len(bytes.TrimSpace(v)) == 0 || string(bytes.TrimSpace(v)) == "null"
}

func (o object) has(names ...string) bool {
	_, ok := o.raw(names...)
	return ok
}

func (o object) object(names ...string) (object, bool, error) {
	v, ok := o.raw(names...)
	if !ok {
		return nil, false, nil
	}
	var out object
	if err := json.Unmarshal(v, &out); err != nil || out == nil {
		return nil, false, fmt.Errorf("%s: want a JSON object", names[0])
	}
	return out, true, nil
}

func (o object) str(names ...string) (string, error) {
	v, ok := o.raw(names...)
	if !ok {
		return "", nil
	}
	var s string
	if err := json.Unmarshal(v, &s); err != nil {
		return "", fmt.Errorf("%s: want a string", names[0])
	}
	return s, nil
}

func (o object) strings(names ...string) ([]string, error) {
	v, ok := o.raw(names...)
	if !ok {
		return nil, nil
	}
	var s []string
	if err := json.Unmarshal(v, &s); err != nil {
		return nil, fmt.Errorf("%s: want a list of strings", names[0])
	}
	return s, nil
}

// uint reads an unsigned integer written as a number or a decimal string
// (protobuf JSON writes 64-bit integers as strings).
func (o object) uint(names ...string) (uint64, error) {
	v, ok := o.raw(names...)
	if !ok {
		return 0, nil
	}
	var n json.Number
	dec := json.NewDecoder(bytes.NewReader(v))
	dec.UseNumber()
	var val interface{}
	if err := dec.Decode(&val); err != nil {
		return 0, fmt.Errorf("%s: %v", names[0], err)
	}
	switch x := val.(type) {
	case json.Number:
		n = x
	case string:
		n = json.Number(x)
	default:
		return 0, fmt.Errorf("%s: want an unsigned integer", names[0])
	}
	if u, err := strconv.ParseUint(n.String(), 10, 64); err == nil {
		return u, nil
	}
	f, err := strconv.ParseFloat(n.String(), 64)
	if err != nil || f < 0 || f != math.Trunc(f) || f > math.MaxUint64 {
		return 0, fmt.Errorf("%s: %q is not an unsigned integer", names[0], n.String())
	}
	return uint64(f), nil
}

// bool reads a bool, or a google.protobuf.BoolValue written as {"value": b}.
func (o object) bool(names ...string) (bool, error) {
	v, ok := o.raw(names...)
	if !ok {
		return false, nil
	}
	var b bool
	if err := json.Unmarshal(v, &b); err == nil {
		return b, nil
	}
	var wrapped struct {
		Value bool `json:"value"`
	}
	if err := json.Unmarshal(v, &wrapped); err == nil {
		return wrapped.Value, nil
	}
	return false, fmt.Errorf("%s: want a bool", names[0])
}

// readFlows reads every flow of a file. Errors name the file and the line.
func readFlows(path string) ([]flowRecord, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("%s: cannot open: %v", path, err)
	}
	defer f.Close()
	reader := bufio.NewReaderSize(f, 256*1024)
	var flows []flowRecord
	for line := 1; ; line++ {
		text, err := reader.ReadBytes('\n')
		if len(text) > 0 {
			rec, isFlow, perr := parseLine(text)
			if perr != nil {
				return nil, fmt.Errorf("%s:%d: %v", path, line, perr)
			}
			if isFlow {
				rec.Line = line
				flows = append(flows, rec)
			}
		}
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, fmt.Errorf("%s:%d: cannot read: %v", path, line, err)
		}
	}
	return flows, nil
}

// parseLine returns the flow of one line, or isFlow false for a blank line or
// a response that holds no flow (node_status, lost_events, agent/debug events).
func parseLine(text []byte) (rec flowRecord, isFlow bool, err error) {
	text = bytes.TrimPrefix(text, []byte("\xEF\xBB\xBF"))
	if len(bytes.TrimSpace(text)) == 0 {
		return rec, false, nil
	}
	var top object
	if err := json.Unmarshal(text, &top); err != nil {
		return rec, false, fmt.Errorf("invalid JSON: %v", err)
	}
	if top == nil {
		return rec, false, errors.New("invalid JSON: want an object")
	}
	flow := top
	if top.has("flow") {
		inner, _, err := top.object("flow")
		if err != nil {
			return rec, false, err
		}
		flow = inner
	} else if top.has("node_status", "nodeStatus", "lost_events", "lostEvents",
		"agent_event", "agentEvent", "debug_event", "debugEvent") {
		return rec, false, nil
	}
	rec, err = parseFlow(flow)
	return rec, err == nil, err
}

func parseFlow(f object) (flowRecord, error) {
	var rec flowRecord
	var err error
	var srcIP, dstIP string
	if ip, ok, e := f.object("IP"); e != nil {
		return rec, e
	} else if ok {
		if srcIP, err = ip.str("source"); err != nil {
			return rec, err
		}
		if dstIP, err = ip.str("destination"); err != nil {
			return rec, err
		}
	}
	srcNames, err := f.strings("source_names", "sourceNames")
	if err != nil {
		return rec, err
	}
	dstNames, err := f.strings("destination_names", "destinationNames")
	if err != nil {
		return rec, err
	}
	if rec.Src, err = parseEndpoint(f, "source", srcIP, srcNames); err != nil {
		return rec, err
	}
	if rec.Dst, err = parseEndpoint(f, "destination", dstIP, dstNames); err != nil {
		return rec, err
	}
	if l4, ok, e := f.object("l4"); e != nil {
		return rec, e
	} else if ok {
		if rec.L4, rec.Dport, err = parseL4(l4); err != nil {
			return rec, err
		}
	}
	if f.has("is_reply", "isReply") {
		rec.IsReply, err = f.bool("is_reply", "isReply")
	} else {
		// Deprecated predecessor of is_reply.
		rec.IsReply, err = f.bool("reply")
	}
	return rec, err
}

func parseL4(l4 object) (string, uint64, error) {
	for _, proto := range []string{"TCP", "UDP", "SCTP"} {
		ports, ok, err := l4.object(proto)
		if err != nil {
			return "", 0, err
		}
		if ok {
			dport, err := ports.uint("destination_port", "destinationPort")
			if err == nil && dport > math.MaxUint16 {
				err = fmt.Errorf("%s destination_port %d is out of range", proto, dport)
			}
			return proto, dport, err
		}
	}
	for _, proto := range []string{"ICMPv4", "ICMPv6"} {
		if l4.has(proto) {
			return proto, 0, nil
		}
	}
	// The oneof wrapper as Go's encoding/json wrote it in the oldest output.
	if inner, ok, err := l4.object("Protocol"); err != nil {
		return "", 0, err
	} else if ok {
		return parseL4(inner)
	}
	return "", 0, nil
}

func parseEndpoint(f object, field, ip string, names []string) (endpoint, error) {
	ep := endpoint{IP: ip, Names: names}
	o, ok, err := f.object(field)
	if err != nil || !ok {
		return ep, err
	}
	prefix := func(err error) error { return fmt.Errorf("%s.%v", field, err) }
	if ep.Identity, err = o.uint("identity"); err != nil {
		return ep, prefix(err)
	}
	if ep.Namespace, err = o.str("namespace"); err != nil {
		return ep, prefix(err)
	}
	if ep.Labels, err = o.strings("labels"); err != nil {
		return ep, prefix(err)
	}
	if ep.PodName, err = o.str("pod_name", "podName"); err != nil {
		return ep, prefix(err)
	}
	if ep.ClusterName, err = o.str("cluster_name", "clusterName"); err != nil {
		return ep, prefix(err)
	}
	ep.Namespace = strings.TrimSpace(ep.Namespace)
	return ep, nil
}
