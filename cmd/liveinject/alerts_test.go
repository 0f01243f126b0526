package main

import (
	"os"
	"os/exec"
	"regexp"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
)

// TestAlertRules checks contrib/prometheus/alerts.yml with promtool (Debian's prometheus
// package; .ci/run installs it, and without it the test fails in CI and is skipped elsewhere):
// the rules load, their unit tests in alerts_test.yml pass, and every liveinject metric they name
// is one that /metrics exports.
func TestAlertRules(t *testing.T) {
	const dir = "../../contrib/prometheus"
	rules, err := os.ReadFile(dir + "/alerts.yml")
	if err != nil {
		t.Fatal(err)
	}
	exported := map[string]bool{}
	descs := make(chan *prometheus.Desc, 100)
	newCollector(&instance{}, "", "", nil, nil).Describe(descs)
	close(descs)
	fqName := regexp.MustCompile(`fqName: "([^"]+)"`)
	for d := range descs {
		if m := fqName.FindStringSubmatch(d.String()); m != nil {
			exported[m[1]] = true
		}
	}
	named := regexp.MustCompile(`liveinject_[a-z_]+`).FindAllString(string(rules), -1)
	if len(named) == 0 {
		t.Fatal("alerts.yml names no liveinject metric")
	}
	for _, name := range named {
		if !exported[name] {
			t.Errorf("alerts.yml uses %s, which /metrics does not export", name)
		}
	}

	promtool, err := exec.LookPath("promtool")
	if err != nil {
		const why = "promtool not found: install Debian's prometheus package (apt-get install --no-install-recommends prometheus)"
		if os.Getenv("CI") != "" {
			t.Fatal(why)
		}
		t.Skip(why)
	}
	for _, args := range [][]string{{"check", "rules", "alerts.yml"}, {"test", "rules", "alerts_test.yml"}} {
		cmd := exec.Command(promtool, args...)
		cmd.Dir = dir
		out, err := cmd.CombinedOutput()
		if err != nil || !strings.Contains(string(out), "SUCCESS") {
			t.Errorf("promtool %s: %v\n%s", strings.Join(args, " "), err, out)
		}
	}
}
