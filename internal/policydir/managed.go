package policydir

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"path"
	"strings"

	"go.yaml.in/yaml/v2"
)

// The label netpolgen puts on every object it writes (synth.ManagedByLabel
// and synth.ManagedByValue), and the comment that opens every
// kustomization.yaml it writes, which has no metadata to label.
const (
	ManagedByLabel      = "app.kubernetes.io/managed-by"
	ManagedByValue      = "netpolgen"
	KustomizationMarker = "# " + ManagedByLabel + ": " + ManagedByValue
)

// RoleLabel (synth.RoleLabel) marks netpolgen objects that are not part
// of the learned policy set, such as learning-mode policies: another
// command's files, which learn's output never replaces or removes.
const RoleLabel = "netpolgen.io/role"

// ReportName is the review report netpolgen writes at the top of a policy
// directory; reportHeading opens it.
const (
	ReportName    = "REPORT.md"
	reportHeading = "# netpolgen"
)

// Managed reports whether the file at rel (slash-separated, relative to
// the policy directory) holding data is one netpolgen wrote, so a later
// run may replace or remove it:
//   - a kustomization.yaml whose first line is KustomizationMarker;
//   - any other YAML file whose every document carries the managed-by
//     label and no RoleLabel (a file that does not parse is nobody's to
//     touch);
//   - REPORT.md opening with netpolgen's heading;
//   - a JSON object in a file named netpolgen.*, such as the options file.
//
// Everything else is the user's and is never modified.
func Managed(rel string, data []byte) bool {
	name := path.Base(rel)
	switch {
	case isKustomization(name):
		first, _, _ := bytes.Cut(data, []byte("\n"))
		return string(bytes.TrimRight(first, "\r")) == KustomizationMarker
	case isYAML(name):
		return labelledYAML(data)
	case name == ReportName:
		return bytes.HasPrefix(data, []byte(reportHeading))
	case strings.HasPrefix(name, "netpolgen."):
		return json.Valid(data) && bytes.HasPrefix(bytes.TrimSpace(data), []byte("{"))
	}
	return false
}

// labelledYAML reports whether data holds at least one document and each
// one is an object labelled managed-by netpolgen, without a role.
func labelledYAML(data []byte) bool {
	dec := yaml.NewDecoder(bytes.NewReader(data))
	docs := 0
	for {
		var doc struct {
			Metadata struct {
				Labels map[string]string `yaml:"labels"`
			} `yaml:"metadata"`
		}
		err := dec.Decode(&doc)
		if errors.Is(err, io.EOF) {
			return docs > 0
		}
		if err != nil || doc.Metadata.Labels[ManagedByLabel] != ManagedByValue || doc.Metadata.Labels[RoleLabel] != "" {
			return false
		}
		docs++
	}
}

func isKustomization(name string) bool {
	return name == "kustomization.yaml" || name == "kustomization.yml"
}

func isYAML(name string) bool {
	return strings.HasSuffix(name, ".yaml") || strings.HasSuffix(name, ".yml")
}
