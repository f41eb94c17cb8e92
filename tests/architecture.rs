//! The house rules, kept true by reading the sources (no root, no network):
//!
//! - layers point down only: each module names, through `crate::` (or a
//!   `super::` that climbs out of its own top-level module), only modules
//!   of the layers it may use, per [`LAYERS`], which mirrors the layer list
//!   in the opening comment of src/lib.rs;
//! - no two types (struct, enum, union, trait, type alias; at any
//!   indentation, public or not) share a name anywhere in src/. Types in
//!   `#[cfg(test)]` modules (inline or their own files) are left out: they
//!   are local scaffolding no reader meets outside their test;
//! - no source file in src/ is over [`MAX_LINES`] lines, counting its
//!   inline tests, unless one of its first [`MARKER_WITHIN`] lines starts
//!   with [`ONE_PIECE`] and says why it must be one piece.
//!
//! The sources are read by `architecture/scan.rs`.

#[path = "architecture/scan.rs"]
mod scan;

use std::collections::{BTreeMap, BTreeSet};
use std::fs;

use scan::{scan_all, shown, sources, src, top_module};

/// The layers, bottom to top: their modules (top-level names under src/)
/// and the layers each may use besides its own. Keep in step with the
/// "Layers" list in src/lib.rs (checked below).
const LAYERS: &[Layer] = &[
    Layer {
        name: "base",
        modules: &[
            "text",
            "threshold",
            "trace",
            "wait",
            "detach",
            "failure",
            "outcome",
            "role",
            "resolve",
            "channel",
            "resend",
            "privilege",
        ],
        uses: &[],
    },
    Layer {
        name: "net",
        modules: &["net"],
        uses: &["base"],
    },
    Layer {
        name: "transport",
        modules: &["transport"],
        uses: &["base", "net"],
    },
    Layer {
        name: "codecs",
        modules: &["http", "dns"],
        uses: &["base"],
    },
    Layer {
        name: "cli",
        modules: &["cli"],
        uses: &["base", "net", "transport", "codecs"],
    },
    Layer {
        name: "checks",
        modules: &["checks"],
        uses: &["base", "net", "transport", "codecs", "cli"],
    },
    Layer {
        name: "serve",
        modules: &["serve"],
        uses: &["base", "net", "transport", "codecs", "cli", "checks"],
    },
    Layer {
        name: "main",
        modules: &["main"],
        uses: &[
            "base",
            "net",
            "transport",
            "codecs",
            "cli",
            "checks",
            "serve",
        ],
    },
];

/// Longest source file without a reason to be one piece.
const MAX_LINES: usize = 600;
/// The reason's marker, at the start of a line...
const ONE_PIECE: &str = "//! One piece:";
/// ...within this many lines of the top.
const MARKER_WITHIN: usize = 15;

struct Layer {
    name: &'static str,
    modules: &'static [&'static str],
    uses: &'static [&'static str],
}

fn layer_of(module: &str) -> Option<&'static Layer> {
    LAYERS.iter().find(|l| l.modules.contains(&module))
}

/// May code in `from` (a top-level module) name `to`?
fn may_use(from: &Layer, to: &Layer) -> bool {
    from.name == to.name || from.uses.contains(&to.name)
}

#[test]
fn layers_point_down_only() {
    let (scans, _) = scan_all();
    let mut broken = Vec::new();
    for (file, scan) in &scans {
        let module = top_module(file);
        if module == "lib" {
            continue;
        }
        let Some(from) = layer_of(&module) else {
            broken.push(format!(
                "{}: module `{module}` is in no layer: add it to LAYERS in tests/architecture.rs and to the list in src/lib.rs",
                shown(file)
            ));
            continue;
        };
        for (used, line, _) in &scan.uses {
            if *used == module {
                continue;
            }
            match layer_of(used) {
                None => broken.push(format!(
                    "{}:{line}: `crate::{used}` names no module of a layer (LAYERS in tests/architecture.rs)",
                    shown(file)
                )),
                Some(to) if !may_use(from, to) => broken.push(format!(
                    "{}:{line}: `{module}` (layer {}) uses `crate::{used}` (layer {}): layers point down only, and {} may use {:?} (src/lib.rs)",
                    shown(file),
                    from.name,
                    to.name,
                    from.name,
                    from.uses
                )),
                Some(_) => {}
            }
        }
    }
    assert!(broken.is_empty(), "layering broken:\n{}", broken.join("\n"));
}

#[test]
fn no_two_types_share_a_name() {
    let (scans, test_files) = scan_all();
    let mut seen: BTreeMap<&str, Vec<String>> = BTreeMap::new();
    for (file, scan) in &scans {
        if test_files.contains(file) {
            continue;
        }
        for (name, line, test) in &scan.types {
            if !test {
                seen.entry(name)
                    .or_default()
                    .push(format!("{}:{line}", shown(file)));
            }
        }
    }
    let twins: Vec<String> = seen
        .iter()
        .filter(|(_, at)| at.len() > 1)
        .map(|(name, at)| {
            format!(
                "type `{name}` is defined {} times ({}): give each a name that says what it is",
                at.len(),
                at.join(", ")
            )
        })
        .collect();
    assert!(
        twins.is_empty(),
        "types that share a name:\n{}",
        twins.join("\n")
    );
}

#[test]
fn no_file_over_the_limit_without_a_reason() {
    let mut long = Vec::new();
    for file in sources() {
        let text = fs::read_to_string(src().join(&file)).unwrap();
        let lines = text.lines().count();
        let reason = text
            .lines()
            .take(MARKER_WITHIN)
            .any(|l| l.starts_with(ONE_PIECE));
        if lines > MAX_LINES && !reason {
            long.push(format!(
                "{}: {lines} lines, over {MAX_LINES}: split it, or say why it must be one piece in a line starting `{ONE_PIECE}` within its first {MARKER_WITHIN} lines",
                shown(&file)
            ));
        }
    }
    assert!(long.is_empty(), "files too long:\n{}", long.join("\n"));
}

#[test]
fn the_layer_table_mirrors_lib_rs() {
    let lib = fs::read_to_string(src().join("lib.rs")).unwrap();
    // The opening comment from its "# Layers" heading on.
    let doc: String = lib
        .lines()
        .take_while(|l| l.starts_with("//!"))
        .skip_while(|l| !l.starts_with("//! # Layers"))
        .collect::<Vec<_>>()
        .join("\n");
    assert!(
        !doc.is_empty(),
        "src/lib.rs: its opening comment has no `# Layers` section"
    );
    let declared: BTreeSet<String> = lib
        .lines()
        .filter_map(|l| l.trim().strip_prefix("pub mod "))
        .map(|m| m.trim_end_matches(';').to_string())
        .collect();
    let mut broken = Vec::new();
    for layer in LAYERS {
        for module in layer.modules {
            if !doc.contains(&format!("`{module}`")) {
                broken.push(format!(
                    "src/lib.rs: its layer list does not name `{module}` (layer {} in tests/architecture.rs)",
                    layer.name
                ));
            }
            if *module != "main" && !declared.contains(*module) {
                broken.push(format!(
                    "src/lib.rs: no `pub mod {module};`, though tests/architecture.rs puts it in layer {}",
                    layer.name
                ));
            }
        }
    }
    for module in &declared {
        if layer_of(module).is_none() {
            broken.push(format!(
                "src/lib.rs: `pub mod {module};` is in no layer of tests/architecture.rs"
            ));
        }
    }
    // The list's order is the table's: each layer's first module is named
    // after the previous layer's.
    let mut last = 0;
    for layer in LAYERS {
        let at = doc.find(&format!("`{}`", layer.modules[0])).unwrap_or(0);
        if at < last {
            broken.push(format!(
                "src/lib.rs: layer {} comes before the layer below it in its list; keep the order of tests/architecture.rs",
                layer.name
            ));
        }
        last = last.max(at);
    }
    assert!(broken.is_empty(), "{}", broken.join("\n"));
}
