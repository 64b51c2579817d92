// cilium-oracle decides recorded Hubble flows against Cilium/Kubernetes policy
// YAML files with Cilium's own policy engine (pkg/policy.LookupFlow), taking
// the inputs of `tighten simulate`, so a differential test can compare
// tighten's verdicts with Cilium's flow by flow.
//
//	cilium-oracle --policies PATH... --flows FILE [--enforce NS]... [--cluster-name NAME]
//	cilium-oracle --policies PATH... --validate
//	              [--allow-localhost always|policy] [--policy-default-local-cluster true|false]
//
// Output: one JSON line per flow, in file order:
//
//	{"flow":0,"verdict":"allowed"|"dropped"|"skipped","direction":"egress"|"ingress"|null,
//	 "reason":"...","policies":["ns/name",...]}
//
// Exit status: 0 on success (whatever the verdicts), 2 on bad input.
// Built by tests/cilium/build together with the hubble CLI.
package main

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/netip"
	"os"
	"sort"
	"strconv"
	"strings"

	cmtypes "github.com/cilium/cilium/pkg/clustermesh/types"
	"github.com/cilium/cilium/pkg/identity"
	"github.com/cilium/cilium/pkg/identity/identitymanager"
	k8sConst "github.com/cilium/cilium/pkg/k8s/apis/cilium.io"
	"github.com/cilium/cilium/pkg/labels"
	"github.com/cilium/cilium/pkg/logging"
	"github.com/cilium/cilium/pkg/option"
	"github.com/cilium/cilium/pkg/policy"
	"github.com/cilium/cilium/pkg/policy/api"
	policytypes "github.com/cilium/cilium/pkg/policy/types"
	testidentity "github.com/cilium/cilium/pkg/testutils/identity"
	testpolicy "github.com/cilium/cilium/pkg/testutils/policy"
	"github.com/cilium/cilium/pkg/u8proto"
)

const usage = `usage: cilium-oracle --policies PATH... --flows FILE [--enforce NS]... [--cluster-name NAME]
                     [--allow-localhost always|policy] [--policy-default-local-cluster true|false]

Decides each flow of FILE (hubble observe -o jsonpb / -o json lines) against the
policies under PATH with Cilium's policy engine; prints one JSON line per flow.

  --policies PATH...    policy YAML files or directories (repeatable)
  --flows FILE          the recorded flows
  --validate            instead of deciding flows, print one JSON line per policy
                        object: whether Cilium's parser (Rule.Sanitize) accepts it
  --enforce NS          treat tighten's staged default-deny of NS as enforced (repeatable)
  --cluster-name NAME   Cilium's cluster name (default: the io.cilium.k8s.policy.cluster
                        label of the recorded pods, else "default")
  --allow-localhost M   always (the agent's default in Kubernetes: the node may always
                        reach its pods) or policy (default: always)
  --policy-default-local-cluster B
                        the agent option of that name: true (its default) scopes the
                        policies' endpoint selectors to the local cluster
`

type options struct {
	policies       []string
	flows          string
	enforce        []string
	clusterName    string
	allowLocalhost string
	// localCluster is the agent's policy-default-local-cluster.
	localCluster bool
	// validate prints Cilium's parser's verdict on each policy instead.
	validate bool
}

func parseArgs(args []string) (options, error) {
	opts := options{allowLocalhost: option.AllowLocalhostAlways, localCluster: true}
	for i := 0; i < len(args); i++ {
		arg := args[i]
		name, value, hasValue := strings.Cut(arg, "=")
		if !strings.HasPrefix(name, "-") {
			return opts, fmt.Errorf("unexpected argument %q", arg)
		}
		name = "--" + strings.TrimLeft(name, "-")
		// next returns the flag's value: after '=' or the next argument.
		next := func() (string, error) {
			if hasValue {
				return value, nil
			}
			if i+1 >= len(args) || (strings.HasPrefix(args[i+1], "-") && args[i+1] != "-") {
				return "", fmt.Errorf("%s needs a value", name)
			}
			i++
			return args[i], nil
		}
		var err error
		var v string
		switch name {
		case "--policies":
			if v, err = next(); err != nil {
				return opts, err
			}
			opts.policies = append(opts.policies, v)
			// Like tighten: --policies takes one or more values.
			for !hasValue && i+1 < len(args) && !strings.HasPrefix(args[i+1], "-") {
				i++
				opts.policies = append(opts.policies, args[i])
			}
		case "--flows":
			opts.flows, err = next()
		case "--validate":
			opts.validate = true
		case "--enforce":
			if v, err = next(); err == nil {
				opts.enforce = append(opts.enforce, v)
			}
		case "--cluster-name":
			opts.clusterName, err = next()
		case "--allow-localhost":
			opts.allowLocalhost, err = next()
			if err == nil && opts.allowLocalhost != option.AllowLocalhostAlways && opts.allowLocalhost != option.AllowLocalhostPolicy {
				err = fmt.Errorf("--allow-localhost: want %q or %q", option.AllowLocalhostAlways, option.AllowLocalhostPolicy)
			}
		case "--policy-default-local-cluster":
			if v, err = next(); err == nil {
				opts.localCluster, err = strconv.ParseBool(v)
			}
		case "--o", "--output":
			// Accepted for symmetry with `tighten simulate -o json`.
			if v, err = next(); err == nil && v != "json" {
				err = fmt.Errorf("%s: only json output exists", name)
			}
		case "--h", "--help":
			fmt.Print(usage)
			os.Exit(0)
		default:
			return opts, fmt.Errorf("unknown flag %s", arg)
		}
		if err != nil {
			return opts, err
		}
	}
	if len(opts.policies) == 0 {
		return opts, fmt.Errorf("--policies is required")
	}
	if opts.flows == "" && !opts.validate {
		return opts, fmt.Errorf("--flows is required")
	}
	return opts, nil
}

// notes are printed on stderr, each once.
type notes struct {
	seen map[string]bool
	out  io.Writer
}

func (n *notes) add(msg string) {
	if !n.seen[msg] {
		n.seen[msg] = true
		fmt.Fprintf(n.out, "cilium-oracle: note: %s\n", msg)
	}
}

var stdout = bufio.NewWriterSize(os.Stdout, 64*1024)

// fail reports bad input (or an internal error) and exits 2.
func fail(format string, args ...interface{}) {
	_ = stdout.Flush()
	fmt.Fprintf(os.Stderr, "cilium-oracle: "+format+"\n", args...)
	os.Exit(2)
}

func main() {
	opts, err := parseArgs(os.Args[1:])
	if err != nil {
		fmt.Fprint(os.Stderr, usage)
		fail("%v", err)
	}
	// Cilium's packages log through slog; their messages are not ours to print.
	logger := slog.New(slog.DiscardHandler)
	slog.SetDefault(logger)
	logging.DefaultSlogLogger = logger
	ns := &notes{seen: map[string]bool{}, out: os.Stderr}

	if opts.validate {
		validate(logger, opts.policies, ns)
		return
	}
	flows, err := readFlows(opts.flows)
	if err != nil {
		fail("%v", err)
	}

	// The agent's configuration, as its defaults are in a Kubernetes cluster.
	option.Config.AllowLocalhost = opts.allowLocalhost
	option.Config.EnableIPv4 = true
	option.Config.EnableIPv6 = anyIPv6(flows)
	policy.SetPolicyEnabled(option.DefaultEnforcement)

	clusterName := opts.clusterName
	if clusterName == "" {
		clusterName = inferClusterName(flows)
	}
	// As the agent does at start: until then the cluster entity selects nothing.
	api.InitEntities(clusterName)

	policyCluster := cmtypes.PolicyAnyCluster
	if opts.localCluster {
		policyCluster = clusterName
	}
	loader := newPolicyLoader(logger, policyCluster, opts.enforce, ns)
	for _, p := range opts.policies {
		if err := loader.loadPath(p); err != nil {
			fail("%v", err)
		}
	}
	fqdns, err := fqdnMatchers(loader.policies)
	if err != nil {
		fail("%v", err)
	}

	// Every identity first: LookupFlow needs both ends of a flow in the
	// selector cache before the rules are added.
	ids := newIdentities(clusterName, fqdns)
	type ends struct {
		src, dst       identity.NumericIdentity
		srcPod, dstPod bool
	}
	flowEnds := make([]ends, len(flows))
	for i, f := range flows {
		src, dst := ids.classify(f.Src), ids.classify(f.Dst)
		flowEnds[i] = ends{ids.allocate(src), ids.allocate(dst), src.isPod, dst.isPod}
	}
	idManager := identitymanager.NewIDManager(logger)
	repo := policy.NewPolicyRepository(logger, ids.identityMap(), nil, nil, idManager, testpolicy.NewPolicyMetricsNoop())
	repo.GetSelectorCache().SetLocalIdentityNotifier(testidentity.NewDummyIdentityNotifier())
	for _, p := range loader.policies {
		repo.ReplaceByResource(p.entries, p.resource)
	}

	out := json.NewEncoder(stdout)
	memo := map[lookupKey]lookup{}
	for i, f := range flows {
		e := flowEnds[i]
		line := decide(f, e.srcPod, e.dstPod, func(proto u8proto.U8proto, port uint16) (lookup, error) {
			key := lookupKey{e.src, e.dst, proto, port}
			if l, ok := memo[key]; ok {
				return l, nil
			}
			verdict, egress, ingress, err := policy.LookupFlow(logger, repo, idManager, policytypes.Flow{
				From: ids.get(e.src), To: ids.get(e.dst), Proto: proto, Dport: port,
			})
			if err != nil {
				return lookup{}, err
			}
			l := lookup{
				egress:  sideOf(verdict.Egress, egress),
				ingress: sideOf(verdict.Ingress, ingress),
			}
			memo[key] = l
			return l, nil
		})
		line.Flow = i
		if line.err != nil {
			fail("%s:%d: %v", opts.flows, f.Line, line.err)
		}
		if line.Reason == "default-deny" {
			subject := e.dst
			if *line.Direction == "egress" {
				subject = e.src
			}
			line.Policies = defaultDenyPolicies(loader.policies, ids.get(subject), *line.Direction == "ingress")
		}
		if err := out.Encode(line); err != nil {
			fail("writing output: %v", err)
		}
	}
	if err := stdout.Flush(); err != nil {
		fail("writing output: %v", err)
	}
}

type lookupKey struct {
	src, dst identity.NumericIdentity
	proto    u8proto.U8proto
	port     uint16
}

// side is the decision of one direction.
type side struct {
	allowed  bool
	reason   string // default-allow, allowed-by-rule, localhost, default-deny, denied-by-rule
	policies []string
}

type lookup struct{ egress, ingress side }

// outputLine is one line of output.
type outputLine struct {
	Flow      int      `json:"flow"`
	Verdict   string   `json:"verdict"`
	Direction *string  `json:"direction"`
	Reason    string   `json:"reason"`
	Policies  []string `json:"policies"`
	err       error
}

func strp(s string) *string { return &s }

// decide judges one flow as Cilium's datapath would its connection's first
// packet: egress at the source when it is a pod, ingress at the destination
// when it is a pod.
func decide(f flowRecord, srcPod, dstPod bool, look func(u8proto.U8proto, uint16) (lookup, error)) outputLine {
	skipped := func(reason string) outputLine {
		return outputLine{Verdict: "skipped", Reason: reason, Policies: []string{}}
	}
	if f.IsReply {
		// Connection tracking: replies of allowed connections bypass policy.
		return outputLine{Verdict: "allowed", Reason: "reply", Policies: []string{}}
	}
	var proto u8proto.U8proto
	switch f.L4 {
	case "TCP":
		proto = u8proto.TCP
	case "UDP":
		proto = u8proto.UDP
	case "SCTP":
		proto = u8proto.SCTP
	case "ICMPv4", "ICMPv6":
		return skipped("icmp")
	default:
		return skipped("unknown-protocol")
	}
	if f.Dport == 0 {
		return skipped("port-0")
	}
	if !srcPod && !dstPod {
		return outputLine{Verdict: "allowed", Reason: "default-allow", Policies: []string{}}
	}
	l, err := look(proto, uint16(f.Dport))
	if err != nil {
		return outputLine{Verdict: "error", err: err}
	}
	if srcPod && !l.egress.allowed {
		return outputLine{Verdict: "dropped", Direction: strp("egress"), Reason: l.egress.reason, Policies: l.egress.policies}
	}
	if dstPod && !l.ingress.allowed {
		return outputLine{Verdict: "dropped", Direction: strp("ingress"), Reason: l.ingress.reason, Policies: l.ingress.policies}
	}
	var judged []side
	if srcPod {
		judged = append(judged, l.egress)
	}
	if dstPod {
		judged = append(judged, l.ingress)
	}
	reason := "default-allow"
	policies := []string{}
	for _, s := range judged {
		if s.reason == "allowed-by-rule" {
			reason = s.reason
			policies = append(policies, s.policies...)
		} else if s.reason == "localhost" && reason == "default-allow" {
			reason = s.reason
		}
	}
	return outputLine{Verdict: "allowed", Reason: reason, Policies: dedup(policies)}
}

// defaultDenyPolicies: the policies that put the subject in default-deny in a
// direction (LookupFlow names no rule for a default-deny drop).
func defaultDenyPolicies(policies []loadedPolicy, subject *identity.Identity, ingress bool) []string {
	out := []string{}
	for _, p := range policies {
		for _, e := range p.entries {
			if e.Ingress == ingress && e.DefaultDeny && !e.Node && e.Subject != nil && e.Subject.Matches(subject.LabelArray) {
				out = append(out, qualified(p.namespace, p.name))
				break
			}
		}
	}
	return dedup(out)
}

// sideOf reads a direction's decision and the labels of the rules behind it.
func sideOf(d policytypes.Decision, meta policy.RuleMeta) side {
	s := side{allowed: d != policytypes.DecisionDenied, policies: []string{}}
	var localhost bool
	for _, arr := range meta.LabelArray() {
		var name, namespace string
		for _, l := range arr {
			switch {
			case l.Source == labels.LabelSourceK8s && l.Key == k8sConst.PolicyLabelName:
				name = l.Value
			case l.Source == labels.LabelSourceK8s && l.Key == k8sConst.PolicyLabelNamespace:
				namespace = l.Value
			case l.Source == labels.LabelSourceReserved && l.Value == policy.LabelAllowLocalHostIngress:
				localhost = true
			}
		}
		if name != "" {
			s.policies = append(s.policies, qualified(namespace, name))
		}
	}
	s.policies = dedup(s.policies)
	switch {
	case !s.allowed && len(s.policies) > 0:
		s.reason = "denied-by-rule"
	case !s.allowed:
		s.reason = "default-deny"
	case len(s.policies) > 0:
		s.reason = "allowed-by-rule"
	case localhost:
		s.reason = "localhost"
	default:
		s.reason = "default-allow"
	}
	return s
}

func dedup(xs []string) []string {
	sort.Strings(xs)
	out := xs[:0]
	for i, x := range xs {
		if i == 0 || x != xs[i-1] {
			out = append(out, x)
		}
	}
	if out == nil {
		return []string{}
	}
	return out
}

func anyIPv6(flows []flowRecord) bool {
	for _, f := range flows {
		for _, ip := range []string{f.Src.IP, f.Dst.IP} {
			if a, err := netip.ParseAddr(ip); err == nil && a.Unmap().Is6() {
				return true
			}
		}
	}
	return false
}

// inferClusterName: the cluster the recorded pods say they belong to (their
// io.cilium.k8s.policy.cluster label, or the endpoint's cluster_name), the
// most common one; "default" (Cilium's default cluster name) without any.
func inferClusterName(flows []flowRecord) string {
	counts := map[string]int{}
	for _, f := range flows {
		for _, ep := range []endpoint{f.Src, f.Dst} {
			name := ""
			for _, s := range ep.Labels {
				l := labels.ParseLabel(s)
				if (l.Source == labels.LabelSourceK8s || l.Source == labels.LabelSourceUnspec) && l.Key == k8sConst.PolicyLabelCluster {
					name = l.Value
				}
			}
			if name == "" {
				name = ep.ClusterName
			}
			if name != "" {
				counts[name]++
			}
		}
	}
	best, bestCount := "default", 0
	for name, c := range counts {
		if c > bestCount || (c == bestCount && name < best) {
			best, bestCount = name, c
		}
	}
	return best
}
