package main

// Reading policy YAML files (files, or directories searched for *.yaml/*.yml;
// multi-document files; kind: List documents) and turning each policy into
// Cilium's policy entries with Cilium's own parsers, as the agent's policy
// watcher does: CiliumNetworkPolicy.Parse / CiliumClusterwideNetworkPolicy.Parse
// then RulesToPolicyEntries, and k8s.ParseNetworkPolicy.

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"sort"
	"strings"

	ipcachetypes "github.com/cilium/cilium/pkg/ipcache/types"
	"github.com/cilium/cilium/pkg/k8s"
	cilium_v2 "github.com/cilium/cilium/pkg/k8s/apis/cilium.io/v2"
	slim_networkingv1 "github.com/cilium/cilium/pkg/k8s/slim/k8s/api/networking/v1"
	"github.com/cilium/cilium/pkg/policy/api"
	policytypes "github.com/cilium/cilium/pkg/policy/types"
	policyutils "github.com/cilium/cilium/pkg/policy/utils"
	k8syaml "k8s.io/apimachinery/pkg/util/yaml"
	"sigs.k8s.io/yaml"
)

const (
	kindCNP  = "CiliumNetworkPolicy"
	kindCCNP = "CiliumClusterwideNetworkPolicy"
	kindKNP  = "NetworkPolicy"

	labelManagedBy = "app.kubernetes.io/managed-by"
	labelRole      = "tighten.dev/role"
)

// loadedPolicy is one policy object, ready for the repository.
type loadedPolicy struct {
	kind, namespace, name string
	resource              ipcachetypes.ResourceID
	entries               policytypes.PolicyEntries
	rules                 api.Rules // CNP/CCNP only
}

type policyLoader struct {
	logger      *slog.Logger
	clusterName string
	enforce     map[string]bool
	notes       *notes
	policies    []loadedPolicy
	seen        map[ipcachetypes.ResourceID]bool
	// verdicts, when set, collects each object's parse result instead of
	// failing on the first error (--validate).
	verdicts *[]verdict
}

// verdict is what Cilium's parser says of one policy object.
type verdict struct {
	Kind      string `json:"kind"`
	Namespace string `json:"namespace,omitempty"`
	Name      string `json:"name"`
	Accepted  bool   `json:"accepted"`
	Error     string `json:"error,omitempty"`
}

func newPolicyLoader(logger *slog.Logger, clusterName string, enforce []string, n *notes) *policyLoader {
	l := &policyLoader{
		logger:      logger,
		clusterName: clusterName,
		enforce:     map[string]bool{},
		notes:       n,
		seen:        map[ipcachetypes.ResourceID]bool{},
	}
	for _, ns := range enforce {
		l.enforce[ns] = true
	}
	return l
}

func (l *policyLoader) loadPath(path string) error {
	files, err := yamlFiles(path)
	if err != nil {
		return fmt.Errorf("%s: %v", path, err)
	}
	for _, file := range files {
		if err := l.loadFile(file); err != nil {
			return err
		}
	}
	return nil
}

func yamlFiles(path string) ([]string, error) {
	info, err := os.Stat(path)
	if err != nil {
		return nil, errors.New("no such file or directory")
	}
	if !info.IsDir() {
		return []string{path}, nil
	}
	var files []string
	err = filepath.WalkDir(path, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if !d.IsDir() {
			if ext := filepath.Ext(p); ext == ".yaml" || ext == ".yml" {
				files = append(files, p)
			}
		}
		return nil
	})
	sort.Strings(files)
	return files, err
}

func (l *policyLoader) loadFile(file string) error {
	data, err := os.ReadFile(file)
	if err != nil {
		return fmt.Errorf("%s: %v", file, err)
	}
	reader := k8syaml.NewYAMLReader(bufio.NewReader(bytes.NewReader(data)))
	for doc := 1; ; doc++ {
		raw, err := reader.Read()
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return fmt.Errorf("%s: document %d: %v", file, doc, err)
		}
		if err := l.loadDocument(raw); err != nil {
			return fmt.Errorf("%s: document %d: %v", file, doc, err)
		}
	}
}

func (l *policyLoader) loadDocument(raw []byte) error {
	js, err := yaml.YAMLToJSON(raw)
	if err != nil {
		return err
	}
	if t := bytes.TrimSpace(js); len(t) == 0 || string(t) == "null" {
		return nil
	}
	var value map[string]interface{}
	if err := json.Unmarshal(js, &value); err != nil {
		return fmt.Errorf("want a mapping: %v", err)
	}
	kind, _ := value["kind"].(string)
	if kind == "" {
		return errors.New("the document has no kind")
	}
	items := []interface{}{value}
	if strings.HasSuffix(kind, "List") {
		items, _ = value["items"].([]interface{})
	}
	for i, item := range items {
		obj, ok := item.(map[string]interface{})
		if !ok {
			return fmt.Errorf("items[%d]: want a mapping", i)
		}
		if err := l.loadObject(obj); err != nil {
			if len(items) > 1 || strings.HasSuffix(kind, "List") {
				return fmt.Errorf("items[%d]: %v", i, err)
			}
			return err
		}
	}
	return nil
}

func (l *policyLoader) loadObject(obj map[string]interface{}) error {
	err := l.parseObject(obj)
	if l.verdicts == nil {
		return err
	}
	kind, _ := obj["kind"].(string)
	meta, _ := obj["metadata"].(map[string]interface{})
	name, _ := meta["name"].(string)
	namespace, _ := meta["namespace"].(string)
	v := verdict{Kind: kind, Namespace: namespace, Name: name, Accepted: err == nil}
	if err != nil {
		v.Error = err.Error()
	}
	*l.verdicts = append(*l.verdicts, v)
	return nil
}

func (l *policyLoader) parseObject(obj map[string]interface{}) error {
	kind, _ := obj["kind"].(string)
	apiVersion, _ := obj["apiVersion"].(string)
	group := ""
	if i := strings.LastIndexByte(apiVersion, '/'); i >= 0 {
		group = apiVersion[:i]
	}
	meta, _ := obj["metadata"].(map[string]interface{})
	name, _ := meta["name"].(string)
	namespace, _ := meta["namespace"].(string)

	switch {
	case (kind == kindCNP || kind == kindCCNP) && (group == "" || group == "cilium.io"):
		if kind == kindCNP && namespace == "" {
			// What kubectl apply does with a namespaced object without one.
			namespace = "default"
			meta["namespace"] = namespace
		}
		if kind == kindCCNP {
			namespace = ""
		}
		l.prepareCilium(obj, kind, namespace, meta)
		js, err := json.Marshal(obj)
		if err != nil {
			return err
		}
		var rules api.Rules
		if kind == kindCNP {
			var cnp cilium_v2.CiliumNetworkPolicy
			if err := json.Unmarshal(js, &cnp); err != nil {
				return fmt.Errorf("%s %s/%s: %v", kind, namespace, name, err)
			}
			rules, err = cnp.Parse(l.logger, l.clusterName)
		} else {
			var ccnp cilium_v2.CiliumClusterwideNetworkPolicy
			if err := json.Unmarshal(js, &ccnp); err != nil {
				return fmt.Errorf("%s %s: %v", kind, name, err)
			}
			rules, err = ccnp.Parse(l.logger, l.clusterName)
		}
		if err != nil {
			return fmt.Errorf("%s %s: %v", kind, qualified(namespace, name), err)
		}
		resKind := ipcachetypes.ResourceKindCNP
		if kind == kindCCNP {
			resKind = ipcachetypes.ResourceKindCCNP
		}
		return l.add(loadedPolicy{
			kind: kind, namespace: namespace, name: name,
			resource: ipcachetypes.NewResourceID(resKind, namespace, name),
			entries:  policyutils.RulesToPolicyEntries(rules),
			rules:    rules,
		})

	case kind == kindKNP && (group == "" || group == "networking.k8s.io"):
		js, err := json.Marshal(obj)
		if err != nil {
			return err
		}
		var np slim_networkingv1.NetworkPolicy
		if err := json.Unmarshal(js, &np); err != nil {
			return fmt.Errorf("%s %s: %v", kind, qualified(namespace, name), err)
		}
		if np.Namespace == "" {
			np.Namespace = "default"
		}
		entries, err := k8s.ParseNetworkPolicy(l.logger, l.clusterName, &np)
		if err != nil {
			return fmt.Errorf("%s %s: %v", kind, qualified(np.Namespace, name), err)
		}
		return l.add(loadedPolicy{
			kind: kind, namespace: np.Namespace, name: name,
			resource: ipcachetypes.NewResourceID(ipcachetypes.ResourceKindNetpol, np.Namespace, name),
			entries:  entries,
		})
	}
	return nil // not a policy
}

func (l *policyLoader) add(p loadedPolicy) error {
	if l.seen[p.resource] {
		l.notes.add(fmt.Sprintf("%s %s is defined more than once: the last one wins, as in a cluster",
			p.kind, qualified(p.namespace, p.name)))
		for i := range l.policies {
			if l.policies[i].resource == p.resource {
				l.policies[i] = p
				return nil
			}
		}
	}
	l.seen[p.resource] = true
	l.policies = append(l.policies, p)
	return nil
}

// prepareCilium edits a CNP/CCNP before it is parsed:
//   - --enforce: a tighten-staged default-deny in an enforced namespace gets
//     enableDefaultDeny {ingress: true, egress: true} on every rule;
//   - the L7 part of each port rule (rules, and the other proxy-only fields)
//     is removed, so the port is judged at L4: LookupFlow does not follow
//     proxy redirects, and Cilium's L4 decision for such a port is allow (then
//     proxy).
func (l *policyLoader) prepareCilium(obj map[string]interface{}, kind, namespace string, meta map[string]interface{}) {
	lbls, _ := meta["labels"].(map[string]interface{})
	enforced := kind == kindCNP && l.enforce[namespace] &&
		lbls[labelManagedBy] == "tighten" && lbls[labelRole] == "default-deny"
	var rules []map[string]interface{}
	if spec, ok := obj["spec"].(map[string]interface{}); ok {
		rules = append(rules, spec)
	}
	if specs, ok := obj["specs"].([]interface{}); ok {
		for _, s := range specs {
			if spec, ok := s.(map[string]interface{}); ok {
				rules = append(rules, spec)
			}
		}
	}
	for _, rule := range rules {
		if enforced {
			rule["enableDefaultDeny"] = map[string]interface{}{"ingress": true, "egress": true}
		}
		for _, dir := range []string{"ingress", "egress"} {
			peers, _ := rule[dir].([]interface{})
			for _, p := range peers {
				peer, _ := p.(map[string]interface{})
				if dir == "egress" && peer["toFQDNs"] != nil {
					l.notes.add("toFQDNs peers are matched against the flows' DNS names (destination_names), " +
						"as if Cilium's DNS proxy had seen the lookups")
				}
				ports, _ := peer["toPorts"].([]interface{})
				for _, pr := range ports {
					portRule, _ := pr.(map[string]interface{})
					if l.verdicts != nil {
						// Validating: the L7 parts are Sanitize's to judge.
						continue
					}
					for _, field := range []string{"rules", "listener", "terminatingTLS", "originatingTLS", "serverNames"} {
						if _, ok := portRule[field]; ok {
							delete(portRule, field)
							l.notes.add("L7 parts of port rules (rules, listener, TLS, serverNames) are removed: " +
								"such ports are judged at L4")
						}
					}
				}
			}
		}
	}
}

// fqdnMatchers are the toFQDNs selectors of all policies.
func fqdnMatchers(policies []loadedPolicy) ([]fqdnMatcher, error) {
	var out []fqdnMatcher
	seen := map[api.FQDNSelector]bool{}
	for _, p := range policies {
		for _, r := range p.rules {
			for _, e := range r.Egress {
				for _, sel := range e.ToFQDNs {
					if seen[sel] {
						continue
					}
					seen[sel] = true
					re, err := sel.ToRegex()
					if err != nil {
						return nil, fmt.Errorf("%s %s: toFQDNs %s: %v", p.kind, qualified(p.namespace, p.name), sel.String(), err)
					}
					out = append(out, fqdnMatcher{selector: sel, match: re.MatchString})
				}
			}
		}
	}
	return out, nil
}

func qualified(namespace, name string) string {
	if namespace == "" {
		return name
	}
	return namespace + "/" + name
}

// validate prints, one JSON line per policy object of the files, whether
// Cilium's parser accepts it (CiliumNetworkPolicy.Parse, which runs
// Rule.Sanitize as the agent does; ParseNetworkPolicy for Kubernetes').
func validate(logger *slog.Logger, paths []string, n *notes) {
	var verdicts []verdict
	loader := newPolicyLoader(logger, "default", nil, n)
	loader.verdicts = &verdicts
	for _, p := range paths {
		if err := loader.loadPath(p); err != nil {
			fail("%v", err)
		}
	}
	out := json.NewEncoder(os.Stdout)
	for _, v := range verdicts {
		if err := out.Encode(v); err != nil {
			fail("%v", err)
		}
	}
}
