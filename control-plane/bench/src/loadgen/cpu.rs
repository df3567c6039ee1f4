//! What a run cost in CPU: each instance's CPU time (user + system, from `/proc/PID/stat`) read
//! before and after the run, for the instances the control plane lists, so that a run reports
//! requests per service-core and CPU milliseconds per request. On a machine shared with other
//! work, throughput moves with the neighbours; the CPU the services spent per request does not,
//! which is why capacity work compares this figure.
//!
//! The control plane's own process (the parent of the instances: registry, log and trace
//! stores) and the load generator are reported beside the services, not in them.

use std::collections::BTreeMap;
use std::time::Duration;

use serde::Serialize;

/// Linux reports `/proc/PID/stat` times in USER_HZ ticks, which is 100 on every architecture
/// Linux supports for user space (it is fixed by the ABI, unlike the kernel's HZ).
const TICKS_PER_SECOND: f64 = 100.0;

/// How long the control plane may take to list the instances.
const LIST_TIMEOUT: Duration = Duration::from_secs(5);

/// A process's CPU time so far, in ticks, and its parent; `None` when it is gone (or not Linux).
fn read_stat(pid: u32) -> Option<(u64, u32)> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // The command name (field 2) may hold spaces and parentheses: fields count after the last ')'.
    let rest = &stat[stat.rfind(')')? + 1..];
    let fields: Vec<&str> = rest.split_whitespace().collect();
    // After ')': state (3), ppid (4), … utime (14), stime (15).
    let ppid = fields.get(1)?.parse().ok()?;
    let utime: u64 = fields.get(11)?.parse().ok()?;
    let stime: u64 = fields.get(12)?.parse().ok()?;
    Some((utime + stime, ppid))
}

/// One instance of the system, as the control plane lists it.
#[derive(Debug, Clone)]
struct Instance {
    service: String,
    pid: u32,
}

/// CPU times taken at the start of a run.
#[derive(Debug, Clone)]
pub struct Snapshot {
    instances: Vec<(Instance, u64)>,
    control_plane: Option<(u32, u64)>,
    generator: u64,
}

impl Snapshot {
    /// Lists the system's instances at the control plane `control` and reads their CPU times.
    /// `Err` says why there will be no CPU figures (the run goes on without them).
    pub async fn take(control: &str) -> Result<Snapshot, String> {
        let instances = tokio::time::timeout(LIST_TIMEOUT, list(control))
            .await
            .map_err(|_| format!("the control plane at {control} did not list the instances"))??;
        let read: Vec<(Instance, u64, u32)> = instances
            .into_iter()
            .filter_map(|i| read_stat(i.pid).map(|(ticks, ppid)| (i, ticks, ppid)))
            .collect();
        if read.is_empty() {
            return Err(format!(
                "no instance listed by the control plane at {control} runs on this machine"
            ));
        }
        let parent = read[0].2;
        let control_plane = read
            .iter()
            .all(|(_, _, ppid)| *ppid == parent)
            .then(|| read_stat(parent).map(|(ticks, _)| (parent, ticks)))
            .flatten();
        Ok(Snapshot {
            instances: read.into_iter().map(|(i, ticks, _)| (i, ticks)).collect(),
            control_plane,
            generator: read_stat(std::process::id()).map_or(0, |(ticks, _)| ticks),
        })
    }

    /// The CPU spent since the snapshot by the instances still running, against `requests`
    /// sent over `elapsed`.
    pub fn since(&self, requests: u64, elapsed: Duration) -> CpuUse {
        let mut by_service: BTreeMap<&str, (u32, u64)> = BTreeMap::new();
        let mut gone = 0;
        for (instance, before) in &self.instances {
            match read_stat(instance.pid) {
                Some((after, _)) => {
                    let entry = by_service.entry(&instance.service).or_default();
                    entry.0 += 1;
                    entry.1 += after.saturating_sub(*before);
                }
                None => gone += 1,
            }
        }
        let spent = |ticks: u64| ticks as f64 / TICKS_PER_SECOND;
        let services: Vec<ServiceCpu> = by_service
            .into_iter()
            .map(|(name, (instances, ticks))| {
                ServiceCpu::new(name, instances, spent(ticks), requests, elapsed)
            })
            .collect();
        let services_seconds: f64 = services.iter().map(|s| s.cpu_seconds).sum();
        let generator = read_stat(std::process::id())
            .map_or(0, |(ticks, _)| ticks.saturating_sub(self.generator));
        CpuUse {
            services_cpu_seconds: services_seconds,
            services_cores: per_second(services_seconds, elapsed),
            requests_per_service_core: if services_seconds > 0.0 {
                requests as f64 / services_seconds
            } else {
                0.0
            },
            cpu_ms_per_request: per_request_ms(services_seconds, requests),
            control_plane_cpu_seconds: self.control_plane.and_then(|(pid, before)| {
                read_stat(pid).map(|(after, _)| spent(after.saturating_sub(before)))
            }),
            generator_cpu_seconds: spent(generator),
            instances_gone: gone,
            services,
        }
    }
}

/// The instances the control plane at `control` lists, with their pids.
async fn list(control: &str) -> Result<Vec<Instance>, String> {
    let view = brigade_operator::status::fetch(control)
        .await
        .map_err(|e| e.to_string())?;
    Ok(view
        .services
        .into_iter()
        .flat_map(|s| {
            let name = s.name;
            s.instances.into_iter().filter_map(move |i| {
                i.pid.map(|pid| Instance {
                    service: name.clone(),
                    pid,
                })
            })
        })
        .collect())
}

fn per_second(seconds: f64, elapsed: Duration) -> f64 {
    if elapsed.is_zero() {
        0.0
    } else {
        seconds / elapsed.as_secs_f64()
    }
}

fn per_request_ms(seconds: f64, requests: u64) -> f64 {
    if requests == 0 {
        0.0
    } else {
        seconds * 1000.0 / requests as f64
    }
}

/// What the run cost in CPU.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct CpuUse {
    /// CPU seconds (user + system) of every instance over the run.
    pub services_cpu_seconds: f64,
    /// Those seconds per second of the run: the cores the services kept busy.
    pub services_cores: f64,
    /// Requests sent per CPU second of the services: what one core of services carries.
    pub requests_per_service_core: f64,
    /// The services' CPU milliseconds per request sent.
    pub cpu_ms_per_request: f64,
    /// The control plane's process (registry, log and trace stores), not counted above.
    pub control_plane_cpu_seconds: Option<f64>,
    /// The load generator's own process, not counted above.
    pub generator_cpu_seconds: f64,
    /// Instances that exited during the run (their CPU is missing from the figures).
    pub instances_gone: u32,
    pub services: Vec<ServiceCpu>,
}

/// One service's instances' CPU over the run.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct ServiceCpu {
    pub name: String,
    pub instances: u32,
    pub cpu_seconds: f64,
    pub cores: f64,
    /// Its CPU milliseconds per request sent to the system (any request, not only its own).
    pub cpu_ms_per_request: f64,
}

impl ServiceCpu {
    fn new(
        name: &str,
        instances: u32,
        cpu_seconds: f64,
        requests: u64,
        elapsed: Duration,
    ) -> ServiceCpu {
        ServiceCpu {
            name: name.to_owned(),
            instances,
            cpu_seconds,
            cores: per_second(cpu_seconds, elapsed),
            cpu_ms_per_request: per_request_ms(cpu_seconds, requests),
        }
    }
}

impl CpuUse {
    /// The lines the table prints under the requests.
    pub fn lines(&self) -> String {
        let mut out = format!(
            "service CPU: {:.1} s ({:.2} cores): {:.0} requests per service-core, \
             {:.2} ms CPU per request",
            self.services_cpu_seconds,
            self.services_cores,
            self.requests_per_service_core,
            self.cpu_ms_per_request
        );
        if let Some(control) = self.control_plane_cpu_seconds {
            out.push_str(&format!("; control plane {control:.1} s"));
        }
        out.push_str(&format!(
            "; load generator {:.1} s\n",
            self.generator_cpu_seconds
        ));
        let shares: Vec<String> = self
            .services
            .iter()
            .filter(|s| s.cpu_seconds > 0.0)
            .map(|s| format!("{} {:.2}", s.name, s.cpu_ms_per_request))
            .collect();
        out.push_str(&format!(
            "  ms CPU per request by service: {}\n",
            shares.join(", ")
        ));
        if self.instances_gone > 0 {
            out.push_str(&format!(
                "  {} instance(s) exited during the run: their CPU is not counted\n",
                self.instances_gone
            ));
        }
        out
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// The figures of a made-up run: 2 s of catalog and 1 s of gateway CPU for 1,000 requests
    /// over 4 s.
    pub(crate) fn sample() -> CpuUse {
        let elapsed = Duration::from_secs(4);
        let services = vec![
            ServiceCpu::new("catalog", 2, 2.0, 1000, elapsed),
            ServiceCpu::new("gateway", 1, 1.0, 1000, elapsed),
        ];
        CpuUse {
            services_cpu_seconds: 3.0,
            services_cores: per_second(3.0, elapsed),
            requests_per_service_core: 1000.0 / 3.0,
            cpu_ms_per_request: per_request_ms(3.0, 1000),
            control_plane_cpu_seconds: Some(0.5),
            generator_cpu_seconds: 0.7,
            instances_gone: 0,
            services,
        }
    }

    #[test]
    fn this_process_has_a_cpu_time_and_a_parent() {
        let (_, ppid) = read_stat(std::process::id()).expect("/proc/self/stat");
        assert_eq!(ppid, std::os::unix::process::parent_id());
        assert!(read_stat(u32::MAX).is_none());
    }

    #[test]
    fn the_figures_divide_cpu_into_requests() {
        let cpu = sample();
        assert!((cpu.services_cores - 0.75).abs() < 1e-9);
        assert!((cpu.cpu_ms_per_request - 3.0).abs() < 1e-9);
        assert!((cpu.services[0].cpu_ms_per_request - 2.0).abs() < 1e-9);
        assert!((cpu.services[1].cores - 0.25).abs() < 1e-9);
        let lines = cpu.lines();
        assert!(lines.contains("333 requests per service-core"), "{lines}");
        assert!(lines.contains("3.00 ms CPU per request"), "{lines}");
        assert!(lines.contains("catalog 2.00, gateway 1.00"), "{lines}");
    }

    #[test]
    fn a_snapshot_counts_the_cpu_spent_since() {
        let me = Instance {
            service: "bench".into(),
            pid: std::process::id(),
        };
        let snapshot = Snapshot {
            instances: vec![(me, 0)],
            control_plane: None,
            generator: 0,
        };
        let cpu = snapshot.since(10, Duration::from_secs(1));
        assert_eq!(cpu.services.len(), 1);
        assert_eq!(cpu.services[0].instances, 1);
        assert_eq!(cpu.instances_gone, 0);
        assert!(cpu.control_plane_cpu_seconds.is_none());
    }
}
