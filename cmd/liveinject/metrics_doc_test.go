package main

import (
	"os"
	"regexp"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
)

// TestREADMEMetrics: README's /metrics table lists every metric /metrics exports, with its labels,
// so that a new one (liveinject_destination_info) or a new label is documented where operators
// look it up.
func TestREADMEMetrics(t *testing.T) {
	readme, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	descs := make(chan *prometheus.Desc, 100)
	newCollector(&instance{}, "", "", nil, nil).Describe(descs)
	close(descs)
	desc := regexp.MustCompile(`fqName: "([^"]+)".*variableLabels: \{([^}]*)\}`)
	for d := range descs {
		m := desc.FindStringSubmatch(d.String())
		if m == nil {
			t.Fatalf("cannot read %s", d)
		}
		var labels []string
		for l := range strings.SplitSeq(m[2], ",") {
			if l = strings.TrimSpace(l); l != "" {
				labels = append(labels, "`"+l+"`")
			}
		}
		row := regexp.MustCompile(`(?m)^\| ` + "`" + regexp.QuoteMeta(m[1]) + "`" + ` \| (gauge|counter) \|([^|]*)\|`).FindSubmatch(readme)
		if row == nil {
			t.Errorf("README's /metrics table has no row for %s", m[1])
			continue
		}
		if got, want := strings.TrimSpace(string(row[2])), strings.Join(labels, ", "); got != want {
			t.Errorf("README gives %s the labels %q, /metrics %q", m[1], got, want)
		}
	}
}
