// Package chart draws a simulation report's sends per day with
// gonum/plot. It is a package of its own so that what serves simulations
// over HTTP (the api function), which answers JSON only, does not link the
// plotting library and its fonts.
package chart

import (
	"fmt"
	"io"
	"time"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/plotutil"
	"gonum.org/v1/plot/vg"

	"github.com/memberflow/memberflow/internal/simulate"
)

// File is the name of the chart written next to a report.
const File = simulate.ChartFile

// Write draws the report's sends per day, one line per journey and their
// total, as an SVG ("svg") or PNG ("png") image 10 by 4 inches.
func Write(w io.Writer, r *simulate.Report, format string) error {
	if format != "svg" && format != "png" {
		return fmt.Errorf("simulate chart: format %q: must be svg or png", format)
	}
	p := plot.New()
	p.Title.Text = fmt.Sprintf("Sends per day — %d members from %s", r.Members.Total, r.Start)
	p.X.Label.Text = "day"
	p.Y.Label.Text = "emails sent"
	p.Y.Min = 0
	p.X.Tick.Marker = plot.TimeTicks{Format: "2006-01-02", Time: plot.UnixTimeIn(time.UTC)}
	p.Legend.Top = true
	p.Add(plotter.NewGrid())

	day := func(i int) float64 {
		t, err := time.Parse(time.DateOnly, r.SendsPerDay[i].Day)
		if err != nil {
			return float64(i)
		}
		return float64(t.Unix())
	}
	series := append([]string{}, r.Journeys...)
	if len(series) > 1 {
		series = append(series, "total")
	}
	for i, name := range series {
		pts := make(plotter.XYs, len(r.SendsPerDay))
		for d, ds := range r.SendsPerDay {
			pts[d].X = day(d)
			if name == "total" {
				pts[d].Y = float64(ds.Total)
			} else {
				pts[d].Y = float64(ds.ByJourney[name])
			}
		}
		l, err := plotter.NewLine(pts)
		if err != nil {
			return fmt.Errorf("simulate chart: %s: %w", name, err)
		}
		l.Color = plotutil.Color(i)
		l.Width = vg.Points(1)
		if name == "total" {
			l.Dashes = plotutil.Dashes(1)
		}
		p.Add(l)
		p.Legend.Add(name, l)
	}
	if len(r.SendsPerDay) == 0 {
		p.X.Min, p.X.Max = 0, 1
	}
	wt, err := p.WriterTo(10*vg.Inch, 4*vg.Inch, format)
	if err != nil {
		return fmt.Errorf("simulate chart: %w", err)
	}
	_, err = wt.WriteTo(w)
	return err
}
