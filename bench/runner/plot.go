package main

// PNG plots of the report, drawn with gonum.org/v1/plot: throughput bars per
// workload and target, W6's and W8's latency percentiles, and W9's scale
// curves against the partition count.

import (
	"fmt"
	"maps"
	"math"
	"os"
	"path/filepath"
	"slices"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/plotutil"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"
	"gonum.org/v1/plot/vg/vgimg"
)

func plots(dir string, wls []workload, samples []sample) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	for _, f := range []func(string, []workload, []sample) error{plotThroughput, plotLatency, plotScale, plotClusterThroughput, plotClusterLatency, plotFailover} {
		if err := f(dir, wls, samples); err != nil {
			return err
		}
	}
	return nil
}

// targetColor keeps a target's colour the same in every plot.
func targetColor(t string) int { return slices.Index(canonical, t) }

// plotThroughput: grouped bars, one group per throughput workload, one bar
// per target (median MiB/s over rounds).
func plotThroughput(dir string, wls []workload, samples []sample) error {
	var names []string
	for _, w := range wls {
		if w.Kind == "" && !w.Latency && len(targetsOf(samples, w.Name)) > 0 {
			names = append(names, w.Name)
		}
	}
	if len(names) == 0 {
		return nil
	}
	p := plot.New()
	p.Title.Text = "Throughput by workload (median over rounds)"
	p.Y.Label.Text = "MiB/s"
	var ts []string
	for _, t := range canonical {
		for _, w := range names {
			if slices.Contains(targetsOf(samples, w), t) && !slices.Contains(ts, t) {
				ts = append(ts, t)
			}
		}
	}
	width := vg.Points(60 / float64(len(ts)))
	top := 0.0
	for i, t := range ts {
		vs := make(plotter.Values, len(names))
		for j, w := range names {
			vs[j] = median(vals(values(samples, w, t, func(s sample) float64 { return s.MiBPerSec })))
			top = max(top, vs[j])
		}
		bars, err := plotter.NewBarChart(vs, width)
		if err != nil {
			return err
		}
		bars.LineStyle.Width = 0
		bars.Color = plotutil.Color(targetColor(t))
		bars.Offset = width * vg.Length(float64(i)-float64(len(ts)-1)/2)
		p.Add(bars)
		p.Legend.Add(t, bars)
	}
	p.Legend.Top = true
	p.Y.Max = top * 1.2 // room for the legend
	p.NominalX(names...)
	return save(p, 11*vg.Inch, 4.5*vg.Inch, filepath.Join(dir, "throughput.png"))
}

// plotLatency: W6's end-to-end percentiles (µs) and W8's producer
// percentiles (ms), one curve per target, log y.
func plotLatency(dir string, _ []workload, samples []sample) error {
	type curve struct {
		w, file, title, unit string
		keys, labels         []string
		get                  func(sample, string) float64
	}
	for _, c := range []curve{
		{"W6", "w6-latency.png", "W6 end-to-end latency at a fixed 32 MiB/s (median over rounds)", "latency ms",
			[]string{"p50", "p99", "p999", "max"}, []string{"p50", "p99", "p99.9", "max"},
			func(s sample, k string) float64 { return s.E2E[k] / 1000 }},
		{"W8-produce", "w8-latency.png", "W8 kafka-producer-perf-test record latency (median over rounds)", "latency ms",
			[]string{"p50_ms", "p95_ms", "p99_ms", "p999_ms", "max_ms"}, []string{"p50", "p95", "p99", "p99.9", "max"},
			func(s sample, k string) float64 { return s.Perf[k] }},
	} {
		ts := targetsOf(samples, c.w)
		if len(ts) == 0 {
			continue
		}
		p := plot.New()
		p.Title.Text = c.title
		p.X.Label.Text = "percentile"
		p.Y.Label.Text = c.unit + " (log)"
		p.Y.Scale = plot.LogScale{}
		p.Y.Tick.Marker = plot.LogTicks{Prec: -1}
		drawn := false
		for _, t := range ts {
			var xys plotter.XYs
			for i, k := range c.keys {
				v := median(vals(values(samples, c.w, t, func(s sample) float64 { return c.get(s, k) })))
				if v > 0 {
					xys = append(xys, plotter.XY{X: float64(i), Y: v})
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
		if !drawn {
			continue
		}
		p.NominalX(c.labels...)
		p.Legend.Top, p.Legend.Left = true, true
		if err := save(p, 7*vg.Inch, 4.5*vg.Inch, filepath.Join(dir, c.file)); err != nil {
			return err
		}
	}
	return nil
}

func addLine(p *plot.Plot, t string, xys plotter.XYs) error {
	l, pts, err := plotter.NewLinePoints(xys)
	if err != nil {
		return err
	}
	c := plotutil.Color(targetColor(t))
	l.Color, pts.Color = c, c
	pts.Shape = plotutil.Shape(targetColor(t))
	p.Add(l, pts)
	p.Legend.Add(t, l, pts)
	return nil
}

// plotScale: W9's measurements against the partition count (log x), one
// panel each, in one PNG.
func plotScale(dir string, _ []workload, samples []sample) error {
	ts := targetsOf(samples, "W9")
	if len(ts) == 0 {
		return nil
	}
	panels := []struct {
		title, unit string
		get         func(scaleSample) float64
	}{
		{"Idle RSS", "MiB", func(s scaleSample) float64 { return s.IdleRSSMiB }},
		{"Idle CPU", "% of a core", func(s scaleSample) float64 { return s.IdleCPUPct }},
		{"Open files", "fds", func(s scaleSample) float64 { return float64(s.OpenFiles) }},
		{"Start-up (clean stop)", "ms", func(s scaleSample) float64 { return s.StartupMs }},
		{"Recovery (kill -9)", "ms", func(s scaleSample) float64 { return s.RecoveryMs }},
		{"Create topic", "ms", func(s scaleSample) float64 { return s.CreateMs }},
	}
	const cols, rows = 3, 2
	img := vgimg.New(15*vg.Inch, 8*vg.Inch)
	dc := draw.New(img)
	tiles := draw.Tiles{Rows: rows, Cols: cols, PadX: vg.Millimeter * 4, PadY: vg.Millimeter * 4, PadTop: vg.Millimeter * 2, PadBottom: vg.Millimeter * 2, PadLeft: vg.Millimeter * 2, PadRight: vg.Millimeter * 2}
	grid := make([][]*plot.Plot, rows)
	for i := range grid {
		grid[i] = make([]*plot.Plot, cols)
	}
	for i, pn := range panels {
		p := plot.New()
		p.Title.Text = pn.title
		p.X.Label.Text = "partitions (log)"
		p.Y.Label.Text = pn.unit
		p.X.Scale, p.X.Tick.Marker = plot.LogScale{}, plot.LogTicks{Prec: -1}
		lines := map[string]plotter.XYs{}
		lo, hi := math.Inf(1), 0.0
		for _, t := range ts {
			byN := map[int][]float64{}
			for _, s := range samples {
				if s.Workload == "W9" && s.Target == t && s.Err == "" && s.Scale != nil {
					byN[s.Scale.Partitions] = append(byN[s.Scale.Partitions], pn.get(*s.Scale))
				}
			}
			for _, n := range slices.Sorted(maps.Keys(byN)) {
				v := median(byN[n])
				lines[t] = append(lines[t], plotter.XY{X: float64(n), Y: v})
				lo, hi = min(lo, v), max(hi, v)
			}
		}
		// Log y only where it spans decades and has no zeros.
		logY := lo > 0 && hi/lo > 20
		if logY {
			p.Y.Scale, p.Y.Tick.Marker = plot.LogScale{}, plot.LogTicks{Prec: -1}
			p.Y.Label.Text += " (log)"
		}
		for _, t := range ts {
			if len(lines[t]) == 0 {
				continue
			}
			if err := addLine(p, t, lines[t]); err != nil {
				return err
			}
		}
		if len(lines) == 0 {
			p.X.Scale, p.X.Tick.Marker = plot.LinearScale{}, plot.DefaultTicks{}
			p.Title.Text += " (no data)"
		} else if !logY {
			p.Y.Min = 0
			p.Y.Max = max(p.Y.Max, hi*1.1, 1)
		}
		p.Legend.Top, p.Legend.Left = true, true
		grid[i/cols][i%cols] = p
	}
	canvases := plot.Align(grid, tiles, dc)
	for r := range grid {
		for c := range grid[r] {
			grid[r][c].Draw(canvases[r][c])
		}
	}
	return savePNG(img, filepath.Join(dir, "w9-scale.png"))
}

// savePNG writes a multi-panel canvas.
func savePNG(img *vgimg.Canvas, path string) error {
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	if _, err := (vgimg.PngCanvas{Canvas: img}).WriteTo(f); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

func save(p *plot.Plot, w, h vg.Length, path string) error {
	if err := p.Save(w, h, path); err != nil {
		return fmt.Errorf("%s: %w", path, err)
	}
	return nil
}
