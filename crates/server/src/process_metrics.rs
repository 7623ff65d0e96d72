//! The standard process metrics of the Prometheus client libraries
//! (`process_cpu_seconds_total`, `process_resident_memory_bytes`,
//! `process_virtual_memory_bytes`, `process_open_fds`, `process_max_fds`,
//! `process_start_time_seconds`), read from `/proc` at scrape time, so that
//! the dashboards every operator already has work unchanged.
//!
//! prometheus-client has no process collector, and `procfs` would bring a
//! dependency tree for five numbers from four small files; the parsing is
//! here, tested against real samples. Where `/proc` is not there (not
//! Linux), the metrics are simply absent.

use prometheus_client::collector::Collector;
use prometheus_client::encoding::{DescriptorEncoder, EncodeMetric};
use prometheus_client::metrics::counter::ConstCounter;
use prometheus_client::metrics::gauge::ConstGauge;
use prometheus_client::registry::Unit;

/// `/proc/<pid>/stat` times are in USER_HZ, which the kernel fixes at 100
/// for every user-space interface whatever its own tick rate.
const USER_HZ: f64 = 100.0;

#[derive(Debug, Default)]
pub struct ProcessCollector;

/// What one scrape read.
#[derive(Debug, Default, Clone, Copy, PartialEq)]
struct Reading {
    cpu_seconds: Option<f64>,
    start_time_seconds: Option<f64>,
    resident_bytes: Option<i64>,
    virtual_bytes: Option<i64>,
    open_fds: Option<i64>,
    max_fds: Option<i64>,
}

impl Reading {
    fn now() -> Self {
        let read = |path: &str| std::fs::read_to_string(path).ok();
        let stat = read("/proc/self/stat").and_then(|text| parse_stat(&text));
        let boot = read("/proc/stat").and_then(|text| parse_btime(&text));
        let status = read("/proc/self/status");
        let kib = |field| status.as_deref().and_then(|s| status_kib(s, field)).map(|k| k * 1024);
        Self {
            cpu_seconds: stat.map(|s| (s.utime + s.stime) as f64 / USER_HZ),
            start_time_seconds: stat
                .zip(boot)
                .map(|(s, boot)| boot as f64 + s.start_ticks as f64 / USER_HZ),
            resident_bytes: kib("VmRSS:"),
            virtual_bytes: kib("VmSize:"),
            open_fds: std::fs::read_dir("/proc/self/fd")
                .ok()
                .map(|dir| i64::try_from(dir.count()).unwrap_or(i64::MAX)),
            max_fds: read("/proc/self/limits").and_then(|text| parse_max_open_files(&text)),
        }
    }
}

impl Collector for ProcessCollector {
    fn encode(&self, mut encoder: DescriptorEncoder) -> Result<(), std::fmt::Error> {
        let reading = Reading::now();
        if let Some(seconds) = reading.cpu_seconds {
            let metric = ConstCounter::new(seconds);
            let help = "Total user and system CPU time spent in seconds";
            metric.encode(encoder.encode_descriptor(
                "process_cpu",
                help,
                Some(&Unit::Seconds),
                metric.metric_type(),
            )?)?;
        }
        let gauges: [(&str, &str, Option<Unit>, Option<i64>); 4] = [
            (
                "process_resident_memory",
                "Resident memory size in bytes",
                Some(Unit::Bytes),
                reading.resident_bytes,
            ),
            (
                "process_virtual_memory",
                "Virtual memory size in bytes",
                Some(Unit::Bytes),
                reading.virtual_bytes,
            ),
            (
                "process_open_fds",
                "Number of open file descriptors",
                None,
                reading.open_fds,
            ),
            (
                "process_max_fds",
                "Maximum number of open file descriptors",
                None,
                reading.max_fds,
            ),
        ];
        for (name, help, unit, value) in gauges {
            if let Some(value) = value {
                let metric = ConstGauge::new(value);
                metric.encode(encoder.encode_descriptor(name, help, unit.as_ref(), metric.metric_type())?)?;
            }
        }
        if let Some(start) = reading.start_time_seconds {
            let metric = ConstGauge::new(start);
            let help = "Start time of the process since the Unix epoch in seconds";
            metric.encode(encoder.encode_descriptor(
                "process_start_time",
                help,
                Some(&Unit::Seconds),
                metric.metric_type(),
            )?)?;
        }
        Ok(())
    }
}

#[derive(Debug, Clone, Copy, PartialEq)]
struct Stat {
    utime: u64,
    stime: u64,
    start_ticks: u64,
}

/// `/proc/<pid>/stat`: the command name may hold spaces and parentheses, so
/// the fields are counted from the last `)`.
fn parse_stat(text: &str) -> Option<Stat> {
    let after = &text[text.rfind(')')? + 1..];
    // Field 3 (state) is the first after the name; utime is 14, stime 15,
    // starttime 22 (proc(5)).
    let fields: Vec<&str> = after.split_whitespace().collect();
    let field = |n: usize| fields.get(n - 3)?.parse::<u64>().ok();
    Some(Stat {
        utime: field(14)?,
        stime: field(15)?,
        start_ticks: field(22)?,
    })
}

/// The boot time in seconds since the epoch, from `/proc/stat`.
fn parse_btime(text: &str) -> Option<u64> {
    text.lines()
        .find_map(|line| line.strip_prefix("btime "))
        .and_then(|n| n.trim().parse().ok())
}

/// A `kB` field of `/proc/<pid>/status`.
fn status_kib(text: &str, field: &str) -> Option<i64> {
    let line = text.lines().find(|line| line.starts_with(field))?;
    line[field.len()..].split_whitespace().next()?.parse().ok()
}

/// The soft limit of open files, from `/proc/<pid>/limits`.
fn parse_max_open_files(text: &str) -> Option<i64> {
    let line = text.lines().find(|line| line.starts_with("Max open files"))?;
    let soft = line["Max open files".len()..].split_whitespace().next()?;
    // "unlimited" is no number a gauge can carry; leave it out.
    soft.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_stat_line_with_spaces_and_parentheses_in_its_name() {
        let line = "4242 (casebook (x) y) S 1 4242 4242 0 -1 4194560 1234 0 0 0 250 75 0 0 20 0 9 0 123456 \
                    104857600 2560 18446744073709551615 1 1 0 0 0 0 0 4096 0 0 0 0 17 1 0 0 0 0 0";
        assert_eq!(
            parse_stat(line),
            Some(Stat {
                utime: 250,
                stime: 75,
                start_ticks: 123456
            })
        );
        assert_eq!(parse_stat("4242 (cut"), None);
    }

    #[test]
    fn status_limits_and_boot_time() {
        let status = "Name:\tcasebook\nVmSize:\t  812344 kB\nVmRSS:\t   30580 kB\nThreads:\t9\n";
        assert_eq!(status_kib(status, "VmRSS:"), Some(30580));
        assert_eq!(status_kib(status, "VmSize:"), Some(812344));
        assert_eq!(status_kib(status, "VmSwap:"), None);
        let limits = "Limit                     Soft Limit           Hard Limit           Units     \n\
                      Max open files            4352                 524288               files     \n";
        assert_eq!(parse_max_open_files(limits), Some(4352));
        let unlimited = "Max open files            unlimited            unlimited            files\n";
        assert_eq!(parse_max_open_files(unlimited), None);
        assert_eq!(
            parse_btime("cpu  1 2 3\nbtime 1764900000\nprocesses 9\n"),
            Some(1764900000)
        );
    }

    #[cfg(target_os = "linux")]
    #[test]
    fn this_process_reads_and_renders_under_the_standard_names() {
        let reading = Reading::now();
        assert!(reading.resident_bytes.is_some_and(|b| b > 0), "{reading:?}");
        assert!(reading.open_fds.is_some_and(|n| n > 0), "{reading:?}");
        let mut registry = prometheus_client::registry::Registry::default();
        registry.register_collector(Box::new(ProcessCollector));
        let mut out = String::new();
        prometheus_client::encoding::text::encode(&mut out, &registry).unwrap();
        for name in [
            "process_cpu_seconds_total ",
            "process_resident_memory_bytes ",
            "process_virtual_memory_bytes ",
            "process_open_fds ",
            "process_max_fds ",
            "process_start_time_seconds ",
        ] {
            assert!(out.contains(name), "{name} in {out}");
        }
    }
}
