package synth

import (
	"bytes"
	"encoding/json"
	"fmt"
	"path"
	"sort"

	"go.yaml.in/yaml/v2"

	"github.com/netpolgen/netpolgen/internal/policydir"
)

// File is one generated file, its path relative to the output directory.
type File = policydir.File

// Files renders a plan into the review layout: per namespace a
// default-deny.yaml, one <workload>.yaml per workload and a
// kustomization.yaml, plus a root kustomization.yaml. It also returns the
// warnings rendering raised (peers a format cannot express).
func (pl *Plan) Files(format Format) ([]File, []string, error) {
	var files []File
	var warnings []string
	byNS := map[string][]string{}
	for _, ns := range pl.Namespaces {
		var docs []any
		if format.Kubernetes() {
			np := KubernetesDefaultDeny(ns)
			if err := ValidateNetworkPolicy(np); err != nil {
				return nil, nil, err
			}
			docs = append(docs, np)
		}
		if format.Cilium() {
			cnp := CiliumDefaultDeny(ns)
			if err := cnp.Spec.Sanitize(); err != nil {
				return nil, nil, fmt.Errorf("default-deny for %s: Cilium rejects it: %w", ns, err)
			}
			docs = append(docs, cnp)
		}
		data, err := MarshalYAML(docs...)
		if err != nil {
			return nil, nil, fmt.Errorf("default-deny for %s: %w", ns, err)
		}
		files = append(files, File{Path: path.Join(ns, DefaultDenyName+".yaml"), Data: data})
		byNS[ns] = append(byNS[ns], DefaultDenyName+".yaml")
	}
	for _, wp := range pl.Policies {
		var docs []any
		if format.Kubernetes() {
			np, warn, err := pl.KubernetesPolicy(wp)
			if err != nil {
				return nil, nil, err
			}
			docs = append(docs, np)
			warnings = append(warnings, warn...)
		}
		if format.Cilium() {
			cnp, err := pl.CiliumPolicy(wp)
			if err != nil {
				return nil, nil, err
			}
			docs = append(docs, cnp)
		}
		data, err := MarshalYAML(docs...)
		if err != nil {
			return nil, nil, fmt.Errorf("policy %s: %w", wp.Workload.WorkloadRef, err)
		}
		if format.Kubernetes() {
			data = append(namesComment(wp, pl), data...)
		}
		name := policyFileName(wp.Workload.Name)
		files = append(files, File{Path: path.Join(wp.Workload.Namespace, name), Data: data})
		byNS[wp.Workload.Namespace] = append(byNS[wp.Workload.Namespace], name)
	}
	for _, ns := range pl.Namespaces {
		resources := byNS[ns]
		sort.Strings(resources)
		files = append(files, File{Path: path.Join(ns, "kustomization.yaml"), Data: kustomization(resources)})
	}
	files = append(files, File{Path: "kustomization.yaml", Data: kustomization(pl.Namespaces)})
	sort.Slice(files, func(i, j int) bool { return files[i].Path < files[j].Path })
	return files, warnings, nil
}

// policyFileName keeps a workload named like the default-deny from
// overwriting it.
func policyFileName(workload string) string {
	if workload == DefaultDenyName {
		return workload + "-workload.yaml"
	}
	return workload + ".yaml"
}

func kustomization(resources []string) []byte {
	var b bytes.Buffer
	// The comment marks the file as netpolgen's (a kustomization has no
	// labels), so a later run may replace it, or remove it when its
	// namespace has gone.
	b.WriteString(policydir.KustomizationMarker + "\n")
	b.WriteString("apiVersion: kustomize.config.k8s.io/v1beta1\nkind: Kustomization\nresources:\n")
	for _, r := range resources {
		fmt.Fprintf(&b, "- %s\n", r)
	}
	return b.Bytes()
}

// MarshalYAML writes objects as one YAML stream, the way every file
// netpolgen writes looks: sorted keys, without the empty status and null
// creationTimestamp typed objects carry.
func MarshalYAML(docs ...any) ([]byte, error) {
	var out bytes.Buffer
	for i, d := range docs {
		raw, err := json.Marshal(d)
		if err != nil {
			return nil, err
		}
		var m map[string]any
		if err := json.Unmarshal(raw, &m); err != nil {
			return nil, err
		}
		delete(m, "status")
		if meta, ok := m["metadata"].(map[string]any); ok {
			delete(meta, "creationTimestamp")
		}
		// The map's keys come out sorted; encoding it directly skips the
		// second JSON round trip sigs.k8s.io/yaml would take.
		y, err := yaml.Marshal(m)
		if err != nil {
			return nil, err
		}
		if i > 0 {
			out.WriteString("---\n")
		}
		out.Write(y)
	}
	return out.Bytes(), nil
}

// WriteFiles makes dir hold files as netpolgen's generated set: files
// whose bytes are unchanged are left alone (a re-run shows in git only
// where policy changed), the policy files netpolgen wrote before and no
// longer generates are removed, files anyone else wrote are never
// touched, and a failed run leaves the previous set in place. See
// policydir.Replace, which also says what it changed.
func WriteFiles(dir string, files []File) error {
	_, err := policydir.Replace(dir, files)
	return err
}
