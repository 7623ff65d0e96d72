//! `cargo xtask tidy`: the house's own shape, checked. Its tests run with
//! the workspace's, so a change that breaks a rule fails CI.

pub mod imports;
pub mod map;

use std::path::Path;

pub fn run() -> Result<(), String> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .ok_or("xtask sits at the root")?;
    let circles = imports::circles(root)?;
    for circle in &circles {
        println!("import circle: {circle}");
    }
    let unmapped = map::unmapped(root)?;
    for room in &unmapped {
        println!("on no line of ARCHITECTURE.md: {room}");
    }
    if circles.is_empty() && unmapped.is_empty() {
        println!("no import circle; every room is on the map");
        Ok(())
    } else {
        Err(format!(
            "import circles: {}; rooms missing from ARCHITECTURE.md: {}",
            circles.len(),
            unmapped.len()
        ))
    }
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    fn root() -> &'static Path {
        Path::new(env!("CARGO_MANIFEST_DIR"))
            .parent()
            .expect("xtask sits at the root")
    }

    #[test]
    fn the_house_has_no_import_circle() {
        let circles = super::imports::circles(root()).expect("the sources are readable");
        let told: Vec<String> = circles.iter().map(ToString::to_string).collect();
        assert!(told.is_empty(), "import circles:\n{}", told.join("\n"));
    }

    #[test]
    fn every_room_is_on_the_map() {
        let unmapped = super::map::unmapped(root()).expect("the map and sources are readable");
        assert!(
            unmapped.is_empty(),
            "name these in ARCHITECTURE.md (see xtask/src/tidy/map.rs for how):\n{}",
            unmapped.join("\n")
        );
    }
}
