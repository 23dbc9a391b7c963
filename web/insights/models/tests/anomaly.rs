//! The host anomaly model's contract: reproducible from its seed, identical after a
//! reload, a damaged document refused, ordinary minutes under the threshold and a host
//! doing something it never did over it, with the feature that changed named first.
#![allow(clippy::indexing_slicing)]

use flowvision_insights::activity::{activity_names, encode, ACTIVITY_LEN};
use flowvision_models::anomaly::AnomalyTrainOptions;
use flowvision_models::file::ModelFile;
use flowvision_models::{HostAnomalyModel, ModelError};
use flowvision_sim::rng::Rng;

/// A host-minute of one of four ordinary kinds (client, web server, resolver, quiet
/// device) with lognormal variation, as the feature rows would give it.
fn ordinary(rng: &mut Rng) -> [f32; ACTIVITY_LEN] {
    let kind = rng.index(4);
    let scale = rng.lognormal(1.0, 0.8);
    let (flows_in, flows_out, bytes_in, bytes_out, peers) = match kind {
        0 => (40.0, 45.0, 2.0e6, 2.0e5, 30.0),
        1 => (900.0, 880.0, 4.0e6, 6.0e7, 700.0),
        2 => (1500.0, 1500.0, 1.2e5, 3.0e5, 300.0),
        _ => (2.0, 2.0, 2.0e3, 3.0e3, 2.0),
    };
    let n = |x: f64, rng: &mut Rng| x * scale * rng.lognormal(1.0, 0.25);
    // Flows are not in the vector (behind packet sampling they are no estimate); they
    // only bound the distinct counts, as in the feature rows.
    let (flows_in, flows_out) = (n(flows_in, rng), n(flows_out, rng));
    let (bytes_in, bytes_out) = (n(bytes_in, rng), n(bytes_out, rng));
    let (packets_in, packets_out) = (bytes_in / 900.0, bytes_out / 900.0);
    let sources = n(peers, rng).min(flows_in);
    let peers_out = n(peers, rng).min(flows_out);
    let values = [
        ("bytes_in", bytes_in),
        ("bytes_out", bytes_out),
        ("packets_in", packets_in),
        ("packets_out", packets_out),
        ("udp_packets_in", if kind == 2 { packets_in } else { packets_in * 0.1 }),
        ("distinct_sources_in", sources),
        ("distinct_peers_out", peers_out),
        ("distinct_ports_out", (peers_out / 3.0).max(1.0)),
    ];
    let names = activity_names();
    let mut v = [0f32; ACTIVITY_LEN];
    for (name, x) in values {
        if let Some(slot) = names.iter().position(|n| *n == name).and_then(|i| v.get_mut(i)) {
            *slot = encode(x);
        }
    }
    v
}

fn history(seed: u64, n: usize) -> Vec<[f32; ACTIVITY_LEN]> {
    let mut rng = Rng::new(seed);
    (0..n).map(|_| ordinary(&mut rng)).collect()
}

fn options(seed: u64) -> AnomalyTrainOptions {
    AnomalyTrainOptions { seed, epochs: 300, learning_rate: 0.01 }
}

#[test]
fn ordinary_minutes_pass_and_new_behaviour_is_named() -> Result<(), Box<dyn std::error::Error>> {
    flowvision_models::init_torch();
    let model = HostAnomalyModel::train(&history(1, 3_000), 1, options(1))?;
    assert_eq!(model.detector(), "model:host_anomaly@1");
    let held_out = history(2, 2_000);
    let false_alarms = model.score(&held_out)?.iter().filter(|s| s.score >= 1.0).count();
    // A host uploading 30 GB a minute (4 Gbit/s), a host scanning, a host flooded with SYNs: each
    // unlike anything in the history.
    let mut rng = Rng::new(3);
    let names = activity_names();
    let mut caught = 0;
    let cases = 300;
    for i in 0..cases {
        let mut v = ordinary(&mut rng);
        // Each case changes the counters that move together: an upload is bytes and
        // packets out; a SYN sweep is probes, SYN-only packets, packets and bytes (44
        // each) and peers out, and one in ten of the addresses swept answers with a
        // reset; a flood is SYN packets, packets and sources in.
        let changes: &[(&str, f64)] = match i % 3 {
            0 => &[("bytes_out", 3.0e10), ("packets_out", 2.5e7)],
            1 => &[
                ("probe_flows_out", 5.0e4),
                ("syn_packets_out", 5.0e4),
                ("packets_out", 5.0e4),
                ("bytes_out", 2.2e6),
                ("distinct_peers_out", 4.0e4),
                ("refusals_in", 4.0e3),
                ("packets_in", 4.0e3),
                ("distinct_sources_in", 4.0e3),
            ],
            _ => &[("syn_packets_in", 2.0e6), ("packets_in", 2.0e6), ("distinct_sources_in", 5.0e5)],
        };
        for (feature, value) in changes {
            let at = names.iter().position(|n| n == feature).ok_or("no such feature")?;
            if let Some(slot) = v.get_mut(at) {
                *slot = encode(*value);
            }
        }
        let s = model.score(&[v])?.pop().ok_or("no score")?;
        let first = s.deviations.first().map(|d| d.feature);
        if s.score >= 1.0 && changes.iter().any(|(f, _)| Some(*f) == first) {
            caught += 1;
        } else {
            println!("missed {changes:?}: score {:.2}, first {:?}", s.score, s.deviations.first());
        }
    }
    println!("held-out ordinary minutes over the threshold: {false_alarms} of {}", held_out.len());
    println!("new behaviour caught with its feature named first: {caught} of {cases}");
    assert!(false_alarms * 1000 <= held_out.len() * 5, "{false_alarms} false alarms");
    assert!(caught * 100 >= cases * 95, "{caught} of {cases}");
    Ok(())
}

#[test]
fn training_is_reproducible_and_a_reload_scores_identically() -> Result<(), Box<dyn std::error::Error>> {
    flowvision_models::init_torch();
    let data = history(4, 600);
    let a = HostAnomalyModel::train(&data, 3, options(9))?;
    let b = HostAnomalyModel::train(&data, 3, options(9))?;
    let doc = a.to_file()?.to_bytes();
    assert_eq!(doc, b.to_file()?.to_bytes(), "same seed and data: byte-identical model");
    let back = HostAnomalyModel::from_bytes(&doc, "test")?;
    let probe = history(5, 50);
    assert_eq!(a.score(&probe)?, back.score(&probe)?, "identical scores after a reload");
    assert_eq!(a.threshold().to_bits(), back.threshold().to_bits());
    assert_eq!(back.version(), 3);
    Ok(())
}

#[test]
fn too_little_history_or_a_damaged_document_is_an_error() -> Result<(), Box<dyn std::error::Error>> {
    flowvision_models::init_torch();
    assert!(matches!(HostAnomalyModel::train(&history(6, 50), 1, options(1)), Err(ModelError::Data(_))));
    let doc = HostAnomalyModel::train(&history(7, 400), 1, options(1))?.to_file()?.to_bytes();
    let cut = doc.get(..doc.len() - 40).ok_or("short")?;
    assert!(matches!(HostAnomalyModel::from_bytes(cut, "cut"), Err(ModelError::Format { .. })));
    let mut f = ModelFile::parse(&doc, "doc")?;
    f.kind = "host_class".into();
    let err = HostAnomalyModel::from_bytes(&f.to_bytes(), "relabelled").err().ok_or("loaded")?;
    assert!(err.to_string().contains("not a host_anomaly one"), "{err}");
    let mut f = ModelFile::parse(&doc, "doc")?;
    if let Some(t) = f.tensors.last_mut().and_then(|t| t.values.first_mut()) {
        *t = -*t + 0.5;
    }
    assert!(matches!(
        HostAnomalyModel::from_bytes(&f.to_bytes(), "altered"),
        Err(ModelError::Checksum { .. })
    ));
    Ok(())
}
