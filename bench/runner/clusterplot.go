package main

// The cluster plots (issue 15): W11/W13 throughput bars, W11-lat and
// W11-lat-eq latency percentiles, W14 failover times.

import (
	"path/filepath"
	"slices"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/plotutil"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"
	"gonum.org/v1/plot/vg/vgimg"
)

// groupedBars is a bar chart with one group per label and one bar per
// target; get(t, i) is target t's value in group i (0: no bar drawn there).
func groupedBars(title, unit string, labels, ts []string, get func(t string, i int) float64) (*plot.Plot, error) {
	p := plot.New()
	p.Title.Text = title
	p.Y.Label.Text = unit
	width := vg.Points(60 / float64(max(len(ts), 1)))
	top := 0.0
	for i, t := range ts {
		vs := make(plotter.Values, len(labels))
		for j := range labels {
			vs[j] = get(t, j)
			top = max(top, vs[j])
		}
		bars, err := plotter.NewBarChart(vs, width)
		if err != nil {
			return nil, err
		}
		bars.LineStyle.Width = 0
		bars.Color = plotutil.Color(targetColor(t))
		bars.Offset = width * vg.Length(float64(i)-float64(len(ts)-1)/2)
		p.Add(bars)
		p.Legend.Add(t, bars)
	}
	p.Legend.Top = true
	p.Y.Min, p.Y.Max = 0, max(top*1.25, 1) // room for the legend
	p.NominalX(labels...)
	return p, nil
}

// clusterTargets is the targets with samples of any of ws, canonical order.
func clusterTargets(samples []sample, ws ...string) []string {
	var ts []string
	for _, t := range canonical {
		for _, w := range ws {
			if slices.Contains(targetsOf(samples, w), t) && !slices.Contains(ts, t) {
				ts = append(ts, t)
			}
		}
	}
	return ts
}

// plotClusterThroughput: W11 produce and W13 consume, median MiB/s.
func plotClusterThroughput(dir string, _ []workload, samples []sample) error {
	var ws, labels []string
	for _, w := range []struct{ name, label string }{{"W11", "W11 produce acks=all RF=3"}, {"W13", "W13 consume RF=3"}} {
		if len(targetsOf(samples, w.name)) > 0 {
			ws, labels = append(ws, w.name), append(labels, w.label)
		}
	}
	if len(ws) == 0 {
		return nil
	}
	p, err := groupedBars("Three-node cluster throughput (median over rounds)", "MiB/s", labels, clusterTargets(samples, ws...), func(t string, i int) float64 {
		return median(vals(values(samples, ws[i], t, func(s sample) float64 { return s.MiBPerSec })))
	})
	if err != nil {
		return err
	}
	return save(p, 7*vg.Inch, 4.5*vg.Inch, filepath.Join(dir, "cluster-throughput.png"))
}

// plotClusterLatency: W11-lat and W11-lat-eq percentiles, one panel each,
// log y.
func plotClusterLatency(dir string, _ []workload, samples []sample) error {
	ws := []string{"W11-lat", "W11-lat-eq"}
	titles := []string{"W11-lat: each at 50% of its own W11", "W11-lat-eq: both at one rate (50% of the slower)"}
	if r, basis := rateOf(samples, "W11-lat"); r > 0 {
		titles[0] = "W11-lat: " + fmtFloat(r) + " records/s (" + basis + ")"
	} else if basis != "" {
		titles[0] = "W11-lat: each at " + basis
	}
	if _, basis := rateOf(samples, "W11-lat-eq"); basis != "" {
		titles[1] = "W11-lat-eq: every target at " + basis
	}
	if len(clusterTargets(samples, ws...)) == 0 {
		return nil
	}
	keys, labels := []string{"p50", "p99", "p999", "max"}, []string{"p50", "p99", "p99.9", "max"}
	img := vgimg.New(13*vg.Inch, 4.5*vg.Inch)
	dc := draw.New(img)
	tiles := draw.Tiles{Rows: 1, Cols: 2, PadX: vg.Millimeter * 6, PadY: vg.Millimeter * 2, PadTop: vg.Millimeter * 2, PadBottom: vg.Millimeter * 2, PadLeft: vg.Millimeter * 2, PadRight: vg.Millimeter * 2}
	grid := [][]*plot.Plot{make([]*plot.Plot, 2)}
	for i, w := range ws {
		p := plot.New()
		p.Title.Text = titles[i]
		p.X.Label.Text = "percentile"
		p.Y.Label.Text = "produce latency ms (log)"
		drawn := false
		for _, t := range targetsOf(samples, w) {
			var xys plotter.XYs
			for j, k := range keys {
				if v := median(vals(clusterValue(samples, w, t, ms(k)))); v > 0 {
					xys = append(xys, plotter.XY{X: float64(j), Y: v})
				}
			}
			if len(xys) == 0 {
				continue
			}
			if err := addLine(p, t, xys); err != nil {
				return err
			}
			drawn = true
		}
		if drawn {
			p.Y.Scale, p.Y.Tick.Marker = plot.LogScale{}, plot.LogTicks{Prec: -1}
			p.NominalX(labels...)
		} else {
			p.Title.Text += " (no data)"
		}
		p.Legend.Top, p.Legend.Left = true, true
		grid[0][i] = p
	}
	canvases := plot.Align(grid, tiles, dc)
	for i := range grid[0] {
		grid[0][i].Draw(canvases[0][i])
	}
	return savePNG(img, filepath.Join(dir, "cluster-latency.png"))
}

// plotFailover: W14's leader and first-ack times, p50 and max over kills.
func plotFailover(dir string, _ []workload, samples []sample) error {
	ts := targetsOf(samples, "W14")
	if len(ts) == 0 {
		return nil
	}
	labels := []string{"leader p50", "leader max", "first ack p50", "first ack max"}
	p, err := groupedBars("W14: recovery after kill -9 of a leader (over every kill)", "ms after the kill", labels, ts, func(t string, i int) float64 {
		leader, produce, _, _, _ := failoverTimes(samples, t)
		xs := leader
		if i >= 2 {
			xs = produce
		}
		if len(xs) == 0 {
			return 0
		}
		if i%2 == 0 {
			return median(xs)
		}
		return slices.Max(xs)
	})
	if err != nil {
		return err
	}
	return save(p, 7*vg.Inch, 4.5*vg.Inch, filepath.Join(dir, "w14-failover.png"))
}
