//! Forward auth under load: `/authz/check` beside `/api/v1/me` on one
//! install (the same token, the same live rules, plus the route policy),
//! and, when `nginx` is on PATH, nginx with `auth_request` to the check in
//! front of an upstream beside the same nginx without it.
//!
//! The upstream is a `return 200` of the same nginx, so the second ratio
//! is what the check adds to a proxied request, not what an upstream costs.

use super::Bench;
use super::load::{Load, Script};
use super::options::find_on_path;
use super::server::{Backend, Database, Server, TempDir, free_port};
use super::setup::{get_token, register, sign_in};
use casebook_server::crypto::MasterKey;
use std::net::SocketAddr;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// The forwarded request every check is asked about.
const FORWARDED: &str = "/cases/v1/items/42";

/// The policy of the install: the route `FORWARDED` takes, with a
/// permission the benchmark's role holds.
const POLICY: &str = r#"
[[route]]
method = "*"
path = "/status"
public = true

[[route]]
method = ["GET", "HEAD"]
path = "/cases/v1/items/{id}"
permission = "engage:view"
"#;

#[derive(Debug, Clone, Copy)]
pub(super) struct ForwardAuthPoint {
    pub(super) me: Load,
    pub(super) check: Load,
    /// nginx proxying to its upstream, without and with `auth_request`.
    pub(super) nginx: Option<(Load, Load)>,
}

impl ForwardAuthPoint {
    pub(super) fn check_vs_me(&self) -> f64 {
        self.check.rps / self.me.rps
    }

    pub(super) fn nginx_checked_vs_alone(&self) -> Option<f64> {
        self.nginx.map(|(alone, checked)| checked.rps / alone.rps)
    }
}

/// The issue's floor: a check costs at most a little more than `me`.
pub(super) const CHECK_VS_ME_TARGET: f64 = 0.8;

/// An nginx of its own, stopped when dropped.
struct Nginx {
    child: Child,
    alone: SocketAddr,
    checked: SocketAddr,
}

impl Drop for Nginx {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Nginx {
    fn start(binary: &std::path::Path, dir: &TempDir, casebook: SocketAddr) -> Result<Self, String> {
        let (alone, checked, upstream) = (free_port()?, free_port()?, free_port()?);
        let prefix = dir.path().join("nginx");
        std::fs::create_dir_all(prefix.join("logs")).map_err(|e| e.to_string())?;
        let config = format!(
            r#"
daemon off;
worker_processes 1;
pid {prefix}/nginx.pid;
error_log {prefix}/logs/error.log warn;
events {{ worker_connections 1024; }}
http {{
    access_log off;
    client_body_temp_path {prefix}/body;
    proxy_temp_path {prefix}/proxy;
    fastcgi_temp_path {prefix}/fastcgi;
    uwsgi_temp_path {prefix}/uwsgi;
    scgi_temp_path {prefix}/scgi;
    upstream service {{ server {upstream}; keepalive 32; }}
    upstream casebook {{ server {casebook}; keepalive 32; }}
    server {{ listen {upstream}; location / {{ return 200 "ok"; }} }}
    server {{
        listen {alone};
        location / {{ proxy_pass http://service; proxy_http_version 1.1; proxy_set_header Connection ""; }}
    }}
    server {{
        listen {checked};
        location / {{
            auth_request /_casebook_check;
            proxy_pass http://service; proxy_http_version 1.1; proxy_set_header Connection "";
        }}
        location = /_casebook_check {{
            internal;
            proxy_pass http://casebook/authz/check;
            proxy_http_version 1.1;
            proxy_set_header Connection "";
            proxy_pass_request_body off;
            proxy_set_header Content-Length "";
            proxy_set_header X-Original-URI $request_uri;
            proxy_set_header X-Original-Method $request_method;
        }}
    }}
}}
"#,
            prefix = prefix.display()
        );
        let conf = dir.file("nginx.conf", &config)?;
        let child = Command::new(binary)
            .arg("-p")
            .arg(&prefix)
            .arg("-c")
            .arg(&conf)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .map_err(|e| format!("starting nginx: {e}"))?;
        let nginx = Self { child, alone, checked };
        let deadline = Instant::now() + Duration::from_secs(10);
        while std::net::TcpStream::connect(checked).is_err() {
            if Instant::now() > deadline {
                return Err(format!(
                    "nginx did not listen within 10 s: {}",
                    std::fs::read_to_string(prefix.join("logs/error.log")).unwrap_or_default()
                ));
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        Ok(nginx)
    }
}

/// A GET with these headers, every request alike.
fn headers_script(headers: &[(&str, &str)]) -> Script {
    let lines: String = headers
        .iter()
        .map(|(name, value)| format!("wrk.headers[\"{name}\"] = \"{value}\"\n"))
        .collect();
    Script::Lua(lines)
}

impl Bench {
    pub(super) fn forward_auth(&self) -> Result<ForwardAuthPoint, String> {
        println!("\n== forward auth (SQLite) ==");
        let master_key = MasterKey::generate_base64();
        let database = Database::create(&Backend::Sqlite, "forward-auth")?;
        let dir = &database.dir;
        let policy = dir.file("policy.toml", POLICY)?;
        let settings = [("CASEBOOK_GATEWAY_POLICY", policy.display().to_string())];
        let server = Server::start_with(&self.binary, &database, &master_key, &settings)?;
        let session = sign_in(&server)?;
        let (client_id, secret) = register(&server, &session, 1)?;
        let token = get_token(server.addr, &client_id, &secret)?;
        let bearer = format!("Bearer {token}");
        let me = self.measure(
            dir,
            &server,
            "/api/v1/me",
            &Script::Get {
                bearer: Some(token.clone()),
            },
            "GET /api/v1/me",
        )?;
        let asked = headers_script(&[
            ("Authorization", &bearer),
            ("X-Forwarded-Method", "GET"),
            ("X-Forwarded-Uri", FORWARDED),
        ]);
        let check = self.measure(dir, &server, "/authz/check", &asked, "GET /authz/check")?;
        let nginx = match find_on_path("nginx") {
            None => {
                println!("  (nginx is not on PATH: the proxy's ratio is skipped)");
                None
            }
            Some(binary) => {
                let nginx = Nginx::start(&binary, dir, server.addr)?;
                let through = headers_script(&[("Authorization", &bearer)]);
                let lua = |name: &str| dir.file(name, &through.lua(None));
                let run = |addr: SocketAddr, script: &std::path::Path, label: &str| -> Result<Load, String> {
                    self.wrk_at(addr, script, FORWARDED, super::WRK_THREADS, self.plan.warmup, label)?;
                    let load = self.wrk_at(addr, script, FORWARDED, super::WRK_THREADS, self.plan.phase, label)?;
                    println!(
                        "  {label:<44} {:>9.0} req/s  p50 {:>7.2} ms  p99 {:>7.2} ms",
                        load.rps,
                        load.p50_us / 1000.0,
                        load.p99_us / 1000.0
                    );
                    Ok(load)
                };
                let alone = run(nginx.alone, &lua("nginx-alone.lua")?, "nginx to its upstream")?;
                let checked = run(
                    nginx.checked,
                    &lua("nginx-checked.lua")?,
                    "nginx to its upstream, auth_request",
                )?;
                server.check_alive()?;
                Some((alone, checked))
            }
        };
        let point = ForwardAuthPoint { me, check, nginx };
        println!(
            "  ratio check/me {:.3}{}",
            point.check_vs_me(),
            point
                .nginx_checked_vs_alone()
                .map_or(String::new(), |r| format!(", nginx with the check/nginx alone {r:.3}"))
        );
        Ok(point)
    }
}
