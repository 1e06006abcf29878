//! graygate between real third-party peers: nginx (Debian) as the origin, curl as the client.
//! `scripts/test.sh` installs both when missing.

mod common;
use common::*;
use std::process::Command;

/// nginx serving as an origin on a free port, answering `<name> <connection serial>`: the
/// serial shows which TCP connection from the proxy carried each request.
struct Nginx {
    addr: std::net::SocketAddr,
    dir: tempfile::TempDir,
}

impl Nginx {
    fn start(name: &str) -> Nginx {
        let dir = tempfile::tempdir().expect("dir");
        let addr = closed_port();
        let conf = format!(
            "daemon on;\nworker_processes 1;\npid {dir}/nginx.pid;\nerror_log {dir}/error.log warn;\nevents {{ worker_connections 256; }}\n\
             http {{\n  access_log off;\n  client_body_temp_path {dir}/body;\n  proxy_temp_path {dir}/proxy;\n  fastcgi_temp_path {dir}/fcgi;\n  uwsgi_temp_path {dir}/uwsgi;\n  scgi_temp_path {dir}/scgi;\n\
             keepalive_requests 100000;\n  server {{\n    listen {addr};\n    location / {{ default_type text/plain; return 200 \"{name} $connection\"; }}\n  }}\n}}\n",
            dir = dir.path().display()
        );
        std::fs::write(dir.path().join("nginx.conf"), conf).expect("conf");
        let status = Command::new(nginx_binary())
            .args(["-p", dir.path().to_str().expect("path"), "-c", "nginx.conf"])
            .status()
            .expect("nginx is installed (scripts/test.sh installs it)");
        assert!(status.success(), "nginx did not start");
        for _ in 0..100 {
            if std::net::TcpStream::connect(addr).is_ok() {
                return Nginx { addr, dir };
            }
            std::thread::sleep(std::time::Duration::from_millis(20));
        }
        panic!("nginx never listened on {addr}");
    }
}

impl Drop for Nginx {
    fn drop(&mut self) {
        if let Ok(pid) = std::fs::read_to_string(self.dir.path().join("nginx.pid")) {
            let _ = Command::new("kill").arg(pid.trim()).status();
        }
    }
}

fn nginx_binary() -> &'static str {
    if std::path::Path::new("/usr/sbin/nginx").exists() {
        "/usr/sbin/nginx"
    } else {
        "nginx"
    }
}

fn curl(args: &[&str]) -> String {
    let out = Command::new("curl")
        .args(["-sS", "--max-time", "10"])
        .args(args)
        .output()
        .expect("curl is installed (scripts/test.sh installs it)");
    assert!(
        out.status.success(),
        "curl {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).to_string()
}

#[test]
fn nginx_origin_sees_reused_keepalive_connections() {
    let (stable, gray) = (Nginx::start("stable"), Nginx::start("gray"));
    let gw = Gateway::start(&format!(
        "sites:\n  - name: s\n    hosts: [\"*\"]\n    release:\n      default: stable\n      versions:\n        stable: {{upstream: {{servers: [\"{}\"]}}}}\n        gray: {{upstream: {{servers: [\"{}\"]}}}}\n      rules:\n        - pin: {{uids: [\"1001\"]}}\n          version: gray\n",
        stable.addr, gray.addr
    ));
    let mut serials = std::collections::HashSet::new();
    for i in 0..200 {
        // Fresh client connections every time: reuse must come from graygate's pool.
        let reply = get(gw.addr, "/", &[&format!("Cookie: uuid=device{i}")]);
        let text = reply.text();
        let serial = text
            .strip_prefix("stable ")
            .unwrap_or_else(|| panic!("unexpected answer {text:?}"));
        serials.insert(serial.to_string());
    }
    assert!(
        serials.len() <= 2,
        "200 requests used {} origin connections",
        serials.len()
    );
    assert!(
        get(gw.addr, "/", &["Cookie: uid=1001; uuid=x"])
            .text()
            .starts_with("gray ")
    );
}

#[test]
fn curl_keeps_its_device_and_version_across_requests() {
    let gw = Gateway::demo();
    let jar = gw.path().join("cookies.txt");
    let url = format!("http://{}/", gw.addr);
    let jar = jar.to_str().expect("path");
    let first = curl(&["-i", "-c", jar, &url]);
    assert!(first.starts_with("HTTP/1.1 200"), "{first}");
    let version = first
        .lines()
        .find_map(|l| l.strip_prefix("x-graygate-version: "))
        .expect("version header")
        .trim()
        .to_string();
    let cookie_line = first
        .lines()
        .find(|l| l.to_ascii_lowercase().starts_with("set-cookie: uuid="))
        .expect("set-cookie");
    assert!(
        cookie_line.contains("Path=/") && cookie_line.contains("Expires="),
        "{cookie_line}"
    );
    for _ in 0..10 {
        let again = curl(&["-i", "-b", jar, "-c", jar, &url]);
        assert!(
            again.contains(&format!("x-graygate-version: {version}")),
            "{again}"
        );
        assert!(
            !again.to_ascii_lowercase().contains("set-cookie"),
            "a returning device got a new id"
        );
    }
}
