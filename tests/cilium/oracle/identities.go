package main

// Security identities for the endpoints of the recorded flows, built as the
// Cilium agent would label them.
//
//   - Pods: their k8s:-source labels, plus the labels Cilium always gives a
//     pod's identity when the recording lacks them (pod namespace, the
//     namespace's kubernetes.io/metadata.name, the cluster name). Numeric
//     identities from 10000 upward, one per distinct label set.
//   - Reserved endpoints (host, remote-node, kube-apiserver, health, init,
//     ingress, unmanaged): Cilium's reserved numeric identities with its labels
//     (kube-apiserver, 7, carries reserved:kube-apiserver and
//     reserved:remote-node), plus any other reserved label the recording shows
//     on them (the host carries reserved:kube-apiserver when the API server runs
//     on the node).
//   - World peers: CIDR identities, as the agent allocates for addresses policy
//     names: labels.GetCIDRLabels(ip/32 or /128) (a cidr: label, matched
//     prefix-aware by CIDR selectors, and the world label toEntities: [world]
//     matches), plus fqdn: labels for the toFQDNs selectors matching the DNS
//     names Hubble reports for the address (the labels Cilium's DNS proxy
//     attaches). Numeric identities in the local (CIDR) scope, 16777217 upward.

import (
	"net/netip"
	"sort"
	"strings"

	"github.com/cilium/cilium/pkg/identity"
	k8sConst "github.com/cilium/cilium/pkg/k8s/apis/cilium.io"
	"github.com/cilium/cilium/pkg/labels"
	"github.com/cilium/cilium/pkg/policy/api"
)

const (
	firstPodIdentity  = identity.NumericIdentity(10000)
	firstCIDRIdentity = identity.IdentityScopeLocal | 1 // 16777217
	namespaceNameKey  = k8sConst.PodNamespaceMetaLabels + ".kubernetes.io/metadata.name"
)

// reservedByPriority decides which reserved identity an endpoint with several
// reserved labels is.
var reservedByPriority = []struct {
	name string
	id   identity.NumericIdentity
}{
	{labels.IDNameHost, identity.ReservedIdentityHost},
	{labels.IDNameKubeAPIServer, identity.ReservedIdentityKubeAPIServer},
	{labels.IDNameRemoteNode, identity.ReservedIdentityRemoteNode},
	{labels.IDNameHealth, identity.ReservedIdentityHealth},
	{labels.IDNameIngress, identity.ReservedIdentityIngress},
	{labels.IDNameInit, identity.ReservedIdentityInit},
	{labels.IDNameUnmanaged, identity.ReservedIdentityUnmanaged},
}

var worldNames = map[string]identity.NumericIdentity{
	labels.IDNameWorld:     identity.ReservedIdentityWorld,
	labels.IDNameWorldIPv4: identity.ReservedIdentityWorldIPv4,
	labels.IDNameWorldIPv6: identity.ReservedIdentityWorldIPv6,
}

// endpointRef is what classify decides for an endpoint before numeric
// identities are allocated.
type endpointRef struct {
	isPod    bool
	reserved identity.NumericIdentity // non-zero for reserved identities
	labels   labels.Labels            // for allocated identities
}

// identities allocates the identities of every endpoint of the recording.
type identities struct {
	clusterName string
	fqdns       []fqdnMatcher

	reservedLabels map[identity.NumericIdentity]labels.Labels
	byKey          map[string]identity.NumericIdentity
	allocated      map[identity.NumericIdentity]labels.Labels
	nextPod        identity.NumericIdentity
	nextCIDR       identity.NumericIdentity

	built map[identity.NumericIdentity]*identity.Identity
}

func newIdentities(clusterName string, fqdns []fqdnMatcher) *identities {
	return &identities{
		clusterName:    clusterName,
		fqdns:          fqdns,
		reservedLabels: map[identity.NumericIdentity]labels.Labels{},
		byKey:          map[string]identity.NumericIdentity{},
		allocated:      map[identity.NumericIdentity]labels.Labels{},
		nextPod:        firstPodIdentity,
		nextCIDR:       firstCIDRIdentity,
	}
}

// parsedLabels sorts Hubble's "source:key=value" strings by source.
type parsedLabels struct {
	k8s      labels.Labels
	reserved map[string]bool
	cidr     bool
	fqdn     labels.Labels
}

func parseEndpointLabels(strs []string) parsedLabels {
	p := parsedLabels{k8s: labels.Labels{}, reserved: map[string]bool{}, fqdn: labels.Labels{}}
	for _, s := range strs {
		if strings.TrimSpace(s) == "" {
			continue
		}
		l := labels.ParseLabel(s)
		switch l.Source {
		case labels.LabelSourceK8s, labels.LabelSourceUnspec, labels.LabelSourceAny:
			l.Source = labels.LabelSourceK8s
			p.k8s[l.Key] = l
		case labels.LabelSourceReserved:
			p.reserved[l.Key] = true
		case labels.LabelSourceCIDR:
			p.cidr = true
		case labels.LabelSourceFQDN:
			p.fqdn[l.Key] = l
		}
	}
	return p
}

// namespace returns the namespace of an endpoint that is a pod Cilium manages:
// one with a pod-namespace label, or with a namespace and no reserved, cidr:
// or fqdn: label (a host-network pod shows reserved:host: it is the host).
func (p parsedLabels) namespace(ep endpoint) (string, bool) {
	if l, ok := p.k8s[k8sConst.PodNamespaceLabel]; ok && l.Value != "" {
		return l.Value, true
	}
	if ep.Namespace != "" && len(p.reserved) == 0 && !p.cidr && len(p.fqdn) == 0 {
		return ep.Namespace, true
	}
	return "", false
}

// classify decides the identity of one endpoint (allocation happens in build).
func (ids *identities) classify(ep endpoint) endpointRef {
	p := parseEndpointLabels(ep.Labels)
	if ns, ok := p.namespace(ep); ok {
		lbls := p.k8s
		add := func(key, value string) {
			if _, ok := lbls[key]; !ok {
				lbls[key] = labels.NewLabel(key, value, labels.LabelSourceK8s)
			}
		}
		add(k8sConst.PodNamespaceLabel, ns)
		// Kubernetes labels every namespace with its name, and Cilium copies
		// namespace labels into the pod's identity.
		add(namespaceNameKey, ns)
		add(k8sConst.PolicyLabelCluster, ids.clusterName)
		return endpointRef{isPod: true, labels: lbls}
	}

	for _, r := range reservedByPriority {
		if p.reserved[r.name] {
			union := ids.reservedLabels[r.id]
			if union == nil {
				union = labels.Labels{}
				for k, l := range identity.LookupReservedIdentity(r.id).Labels {
					union[k] = l
				}
				ids.reservedLabels[r.id] = union
			}
			for name := range p.reserved {
				if _, world := worldNames[name]; !world {
					l := labels.NewLabel(name, "", labels.LabelSourceReserved)
					union[l.Key] = l
				}
			}
			return endpointRef{reserved: r.id}
		}
	}

	// World: reserved:world (or world-ipv4/-ipv6), cidr:/fqdn: labels, or no
	// labels at all (Hubble leaves world peers unlabelled in some versions;
	// an unknown reserved label is treated the same).
	world := p.cidr || len(p.fqdn) > 0 || len(p.k8s) == 0
	worldID := identity.NumericIdentity(0)
	for _, name := range []string{labels.IDNameWorld, labels.IDNameWorldIPv4, labels.IDNameWorldIPv6} {
		if p.reserved[name] && worldID == 0 {
			world, worldID = true, worldNames[name]
		}
	}
	if worldID == 0 {
		worldID = identity.ReservedIdentityWorld
	}
	if world {
		addr, err := netip.ParseAddr(strings.TrimSpace(ep.IP))
		if err != nil {
			return endpointRef{reserved: worldID}
		}
		addr = addr.Unmap()
		lbls := labels.GetCIDRLabels(netip.PrefixFrom(addr, addr.BitLen()))
		for k, l := range p.fqdn {
			lbls[k] = l
		}
		for _, l := range ids.fqdnLabels(ep.Names) {
			lbls[l.Key] = l
		}
		return endpointRef{labels: lbls}
	}

	// Labels without a namespace and no reserved label: not a pod, but an
	// identity of its own (selectors scoped to a namespace will not match it).
	return endpointRef{labels: p.k8s}
}

func labelsKey(lbls labels.Labels) string {
	arr := lbls.LabelArray()
	strs := make([]string, len(arr))
	for i := range arr {
		strs[i] = arr[i].String()
	}
	sort.Strings(strs)
	return strings.Join(strs, "\x00")
}

// allocate gives an allocated identity its numeric ID (call after classify).
func (ids *identities) allocate(ref endpointRef) identity.NumericIdentity {
	if ref.reserved != 0 {
		if _, ok := ids.reservedLabels[ref.reserved]; !ok {
			ids.reservedLabels[ref.reserved] = identity.LookupReservedIdentity(ref.reserved).Labels
		}
		return ref.reserved
	}
	key := labelsKey(ref.labels)
	if id, ok := ids.byKey[key]; ok {
		return id
	}
	var id identity.NumericIdentity
	if hasCIDRLabel(ref.labels) {
		id = ids.nextCIDR
		ids.nextCIDR++
	} else {
		id = ids.nextPod
		ids.nextPod++
	}
	ids.byKey[key] = id
	ids.allocated[id] = ref.labels
	return id
}

// hasCIDRLabel: a world peer's labels (cidr: and a reserved world label).
func hasCIDRLabel(lbls labels.Labels) bool {
	for _, l := range lbls {
		if l.Source == labels.LabelSourceCIDR || l.Source == labels.LabelSourceReserved {
			return true
		}
	}
	return false
}

// identityMap is the initial content of the repository's selector cache: every
// identity of the recording, and every reserved identity.
func (ids *identities) identityMap() identity.IdentityMap {
	ids.built = map[identity.NumericIdentity]*identity.Identity{}
	m := identity.IdentityMap{}
	identity.IterateReservedIdentities(func(id identity.NumericIdentity, i *identity.Identity) {
		if _, ours := ids.reservedLabels[id]; !ours {
			ids.built[id] = i
			m[id] = i.LabelArray
		}
	})
	for id, lbls := range ids.reservedLabels {
		i := identity.NewIdentity(id, lbls)
		ids.built[id] = i
		m[id] = i.LabelArray
	}
	for id, lbls := range ids.allocated {
		i := identity.NewIdentity(id, lbls)
		ids.built[id] = i
		m[id] = i.LabelArray
	}
	return m
}

func (ids *identities) get(id identity.NumericIdentity) *identity.Identity {
	return ids.built[id]
}

// fqdnMatcher is one toFQDNs selector of the policies.
type fqdnMatcher struct {
	selector api.FQDNSelector
	match    func(string) bool
}

// fqdnLabels: the fqdn: labels Cilium's DNS proxy would put on an address the
// names resolved to: one per toFQDNs selector matching one of the names.
func (ids *identities) fqdnLabels(names []string) []labels.Label {
	var out []labels.Label
	for _, m := range ids.fqdns {
		for _, name := range names {
			name = strings.ToLower(strings.TrimSpace(name))
			if name == "" {
				continue
			}
			if !strings.HasSuffix(name, ".") {
				name += "."
			}
			if m.match(name) {
				out = append(out, m.selector.IdentityLabel())
				break
			}
		}
	}
	return out
}
