//! `cargo xtask tidy`: the house's own shape, checked. Its tests run with
//! the workspace's, so a change that breaks a rule fails CI.

pub mod imports;

use std::path::Path;

pub fn run() -> Result<(), String> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .ok_or("xtask sits at the root")?;
    let circles = imports::circles(root)?;
    for circle in &circles {
        println!("import circle: {circle}");
    }
    if circles.is_empty() {
        println!("no import circle");
        Ok(())
    } else {
        Err(format!("{} import circles", circles.len()))
    }
}
