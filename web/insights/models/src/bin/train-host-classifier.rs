//! Trains the host behaviour classifier from labelled simulator hosts and writes the
//! model file the console ships (`web/insights/models/weights/host-classes.json`).
//! Reproducible: the same arguments give a byte-identical file.
//!
//! ```text
//! cargo run --release -p flowvision-models --bin train-host-classifier -- \
//!     --seed 1 --hosts-per-role 400 --out web/insights/models/weights/host-classes.json
//! ```

use anyhow::Context;
use clap::Parser;
use flowvision_models::classifier::TrainOptions;
use flowvision_models::training::{class_names, labelled_hosts, quality};
use flowvision_models::HostClassifier;
use std::path::PathBuf;

/// Command-line options.
#[derive(Debug, Parser)]
struct Args {
    /// Seed of the training hosts and the initial weights.
    #[arg(long, default_value_t = 1)]
    seed: u64,
    /// Seed of the held-out hosts the quality is measured on.
    #[arg(long, default_value_t = 1_000_001)]
    test_seed: u64,
    /// Training hosts of each role.
    #[arg(long, default_value_t = 400)]
    hosts_per_role: usize,
    /// Held-out hosts of each role.
    #[arg(long, default_value_t = 200)]
    test_hosts_per_role: usize,
    /// Full-batch Adam steps.
    #[arg(long, default_value_t = 600)]
    epochs: usize,
    /// Version written into the file (insights name the model `model:host_class@V`).
    #[arg(long, default_value_t = 1)]
    version: u32,
    /// Where to write the model.
    #[arg(long)]
    out: PathBuf,
}

fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    flowvision_models::init_torch();
    let classes = class_names();
    // Half the training hosts are seen whole, half through a sampled exporter's eyes.
    let mut train = labelled_hosts(args.seed, args.hosts_per_role / 2, 1.0);
    train.extend(labelled_hosts(args.seed ^ 0x5a5a, args.hosts_per_role - args.hosts_per_role / 2, 0.1));
    let options = TrainOptions { seed: args.seed, epochs: args.epochs, ..TrainOptions::default() };
    let mut model = HostClassifier::train(&train, &classes, args.version, options).context("training")?;
    let mut results = Vec::new();
    for (name, keep) in [("whole", 1.0), ("one flow in 10", 0.1), ("one flow in 50", 0.02)] {
        let test = labelled_hosts(args.test_seed, args.test_hosts_per_role, keep);
        let rows: Vec<_> = test.iter().map(|(v, _)| *v).collect();
        let labels: Vec<usize> = test.iter().map(|(_, y)| *y).collect();
        let predicted: Vec<usize> = model
            .probabilities(&rows)?
            .iter()
            .map(|p| p.iter().enumerate().max_by(|a, b| a.1.total_cmp(b.1)).map(|(i, _)| i).unwrap_or(0))
            .collect();
        let (accuracy, recall) = quality(&predicted, &labels, classes.len());
        results.push((name, keep, test.len(), accuracy, recall));
    }
    model.note_training("command", serde_json::json!(std::env::args().skip(1).collect::<Vec<_>>().join(" ")));
    model.note_training("test_seed", serde_json::json!(args.test_seed));
    let mut held_out = Vec::new();
    println!(
        "trained {} on {} hosts ({} per role, seed {})",
        model.detector(),
        train.len(),
        args.hosts_per_role,
        args.seed
    );
    for (name, keep, n, accuracy, recall) in &results {
        println!("held-out ({name}): accuracy {accuracy:.4} on {n} hosts (seed {})", args.test_seed);
        for (c, r) in classes.iter().zip(recall) {
            println!("  {c:<14} recall {r:.3}");
        }
        let per_class: serde_json::Map<String, serde_json::Value> =
            classes.iter().zip(recall).map(|(c, r)| ((*c).to_owned(), serde_json::json!(r))).collect();
        held_out.push(
            serde_json::json!({"flows_kept": keep, "hosts": n, "accuracy": accuracy, "recall": per_class}),
        );
    }
    model.note_training("held_out", serde_json::Value::Array(held_out));
    model.save(&args.out).with_context(|| format!("writing {}", args.out.display()))?;
    println!("wrote {}", args.out.display());
    Ok(())
}
