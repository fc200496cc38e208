// Package metricstest scrapes a Prometheus endpoint over HTTP in tests and
// reads the samples, as Prometheus would see them.
package metricstest

import (
	"fmt"
	"net/http"
	"sort"
	"strings"
	"testing"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
)

// Families are the metric families of one scrape, by name.
type Families map[string]*dto.MetricFamily

// Scrape GETs url and parses the text exposition format; any failure
// fails the test.
func Scrape(t testing.TB, url string) Families {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatalf("metricstest: scrape %s: %v", url, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("metricstest: scrape %s: %s", url, resp.Status)
	}
	p := expfmt.NewTextParser(model.UTF8Validation)
	fams, err := p.TextToMetricFamilies(resp.Body)
	if err != nil {
		t.Fatalf("metricstest: parse %s: %v", url, err)
	}
	return fams
}

// Counters returns the values of counter name, keyed by the series'
// labels written as Key renders them; nil when the family is absent.
func (f Families) Counters(name string) map[string]float64 {
	fam, ok := f[name]
	if !ok {
		return nil
	}
	out := make(map[string]float64)
	for _, m := range fam.GetMetric() {
		out[Key(labels(m))] = m.GetCounter().GetValue()
	}
	return out
}

// HistogramCounts returns the sample counts of histogram name, keyed as
// Counters does.
func (f Families) HistogramCounts(name string) map[string]uint64 {
	fam, ok := f[name]
	if !ok {
		return nil
	}
	out := make(map[string]uint64)
	for _, m := range fam.GetMetric() {
		out[Key(labels(m))] = m.GetHistogram().GetSampleCount()
	}
	return out
}

// Gauge returns the value of the unlabelled gauge or counter name, and
// whether it is there.
func (f Families) Gauge(name string) (float64, bool) {
	fam, ok := f[name]
	if !ok || len(fam.GetMetric()) != 1 {
		return 0, false
	}
	m := fam.GetMetric()[0]
	if m.GetGauge() != nil {
		return m.GetGauge().GetValue(), true
	}
	return m.GetCounter().GetValue(), true
}

func labels(m *dto.Metric) map[string]string {
	l := make(map[string]string)
	for _, p := range m.GetLabel() {
		l[p.GetName()] = p.GetValue()
	}
	return l
}

// Key renders labels as name="value" pairs sorted by name, joined by
// commas: the key of Counters and HistogramCounts.
func Key(labels map[string]string) string {
	parts := make([]string, 0, len(labels))
	for k, v := range labels {
		parts = append(parts, fmt.Sprintf("%s=%q", k, v))
	}
	sort.Strings(parts)
	return strings.Join(parts, ",")
}
