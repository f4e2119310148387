//! Small process helpers.

/// The process's peak resident set size (Linux `VmHWM`), if the platform tells.
pub fn peak_rss_bytes() -> Option<u64> {
    process_status_bytes("self", "VmHWM:")
}

/// The process's resident set size now (Linux `VmRSS`), if the platform tells.
pub fn rss_bytes() -> Option<u64> {
    process_status_bytes("self", "VmRSS:")
}

/// Another process's peak resident set size (Linux `VmHWM`).
pub fn peak_rss_bytes_of(pid: u32) -> Option<u64> {
    process_status_bytes(&pid.to_string(), "VmHWM:")
}

/// Another process's resident set size now (Linux `VmRSS`).
pub fn rss_bytes_of(pid: u32) -> Option<u64> {
    process_status_bytes(&pid.to_string(), "VmRSS:")
}

/// A memory figure of `/proc/<process>/status` (given there in KiB), in bytes.
fn process_status_bytes(process: &str, field: &str) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{process}/status")).ok()?;
    let line = status.lines().find(|l| l.starts_with(field))?;
    let kib: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kib * 1024)
}

/// A progress bar on standard error when `enabled` (indicatif draws nothing when standard
/// error is not a terminal), hidden otherwise.
pub fn progress_bar(enabled: bool, total: u64, template: &str) -> indicatif::ProgressBar {
    let bar = if enabled {
        indicatif::ProgressBar::with_draw_target(
            Some(total),
            indicatif::ProgressDrawTarget::stderr(),
        )
    } else {
        indicatif::ProgressBar::hidden()
    };
    if let Ok(style) = indicatif::ProgressStyle::with_template(template) {
        bar.set_style(style);
    }
    bar
}
