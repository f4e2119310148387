//! The picture of a benchmark: time and memory against customers (SVG, plotters), on
//! logarithmic axes, where linear growth is a line of slope one.

use std::path::Path;

use plotters::prelude::*;

/// One line of a panel: a name and its (customers, value) points.
pub struct Series {
    pub name: String,
    pub points: Vec<(f64, f64)>,
}

/// Two panels side by side: times (seconds) and memory (GiB), against customers.
pub fn write_svg(path: &Path, times: &[Series], memory: &[Series]) -> anyhow::Result<()> {
    let root = SVGBackend::new(path, (1200, 520)).into_drawing_area();
    root.fill(&WHITE).map_err(chart_error)?;
    let (left, right) = root.split_horizontally(600);
    panel(&left, "Time (s) against customers", "seconds", times)?;
    panel(&right, "Memory (GiB) against customers", "GiB", memory)?;
    root.present().map_err(chart_error)?;
    Ok(())
}

fn chart_error<E: std::fmt::Display>(e: E) -> anyhow::Error {
    anyhow::anyhow!("cannot draw the chart: {e}")
}

fn panel<DB: DrawingBackend>(
    area: &DrawingArea<DB, plotters::coord::Shift>,
    title: &str,
    unit: &str,
    series: &[Series],
) -> anyhow::Result<()>
where
    DB::ErrorType: 'static,
{
    let points = || {
        series
            .iter()
            .flat_map(|s| s.points.iter())
            .filter(|(x, y)| *x > 0.0 && *y > 0.0)
    };
    let (mut x_low, mut x_high, mut y_low, mut y_high) = (f64::MAX, 0f64, f64::MAX, 0f64);
    for &(x, y) in points() {
        x_low = x_low.min(x);
        x_high = x_high.max(x);
        y_low = y_low.min(y);
        y_high = y_high.max(y);
    }
    if x_high == 0.0 {
        return Ok(());
    }
    let x_range = (x_low / 2.0)..(x_high * 2.0);
    let y_range = (y_low / 2.0)..(y_high * 2.0);
    let mut chart = ChartBuilder::on(area)
        .caption(title, ("sans-serif", 20))
        .margin(15)
        .x_label_area_size(40)
        .y_label_area_size(60)
        .build_cartesian_2d(x_range.log_scale(), y_range.log_scale())
        .map_err(chart_error)?;
    chart
        .configure_mesh()
        .x_desc("customers")
        .x_labels(6)
        .y_desc(unit)
        .x_label_formatter(&|x| format_count(*x))
        .y_label_formatter(&|y| format_value(*y))
        .draw()
        .map_err(chart_error)?;
    for (i, line) in series.iter().enumerate() {
        let color = Palette99::pick(i).to_rgba();
        let points: Vec<(f64, f64)> = line
            .points
            .iter()
            .copied()
            .filter(|(x, y)| *x > 0.0 && *y > 0.0)
            .collect();
        chart
            .draw_series(LineSeries::new(points.clone(), color.stroke_width(2)))
            .map_err(chart_error)?
            .label(line.name.clone())
            .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 20, y)], color));
        chart
            .draw_series(
                points
                    .into_iter()
                    .map(|p| Circle::new(p, 4, color.filled())),
            )
            .map_err(chart_error)?;
    }
    chart
        .configure_series_labels()
        .background_style(WHITE.mix(0.8))
        .border_style(BLACK)
        .position(SeriesLabelPosition::UpperLeft)
        .draw()
        .map_err(chart_error)?;
    Ok(())
}

/// 100000 as "100k", 10000000 as "10M".
fn format_count(x: f64) -> String {
    if x >= 1e6 {
        format!("{}M", x / 1e6)
    } else if x >= 1e3 {
        format!("{}k", x / 1e3)
    } else {
        format!("{x}")
    }
}

/// A value with the digits that matter: 1234, 12.3, 0.123, 0.0123.
fn format_value(y: f64) -> String {
    let digits = if y >= 100.0 {
        0
    } else if y >= 1.0 {
        1
    } else {
        (2 - y.log10().floor() as i32).max(1) as usize
    };
    format!("{y:.digits$}")
}
