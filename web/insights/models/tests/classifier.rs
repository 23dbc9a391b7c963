//! The classifier's contract: training is a function of its seed and data, a saved
//! model reloads to identical scores, a damaged file is refused with a clear error,
//! and the shipped weights load and tell the simulator's roles apart.

use flowvision_models::classifier::TrainOptions;
use flowvision_models::file::ModelFile;
use flowvision_models::training::{class_names, labelled_hosts};
use flowvision_models::{HostClassifier, ModelError};
use std::path::Path;

fn small_training(seed: u64) -> Result<HostClassifier, ModelError> {
    let data = labelled_hosts(seed, 12, 1.0);
    HostClassifier::train(&data, &class_names(), 1, TrainOptions { seed, epochs: 60, learning_rate: 0.01 })
}

#[test]
fn training_is_reproducible_from_its_seed() -> Result<(), ModelError> {
    flowvision_models::init_torch();
    let a = small_training(5)?.to_file()?;
    let b = small_training(5)?.to_file()?;
    assert_eq!(a.to_bytes(), b.to_bytes(), "same seed, same data: byte-identical model");
    let c = small_training(6)?.to_file()?;
    assert_ne!(a.checksum, c.checksum, "another seed gives other weights");
    Ok(())
}

#[test]
fn a_saved_model_reloads_to_identical_scores() -> Result<(), Box<dyn std::error::Error>> {
    flowvision_models::init_torch();
    let model = small_training(7)?;
    let dir = tempfile::tempdir()?;
    let path = dir.path().join("m.json");
    model.save(&path)?;
    let back = HostClassifier::load(&path)?;
    let probe: Vec<_> = labelled_hosts(99, 3, 1.0).into_iter().map(|(v, _)| v).collect();
    let (p, q) = (model.probabilities(&probe)?, back.probabilities(&probe)?);
    assert_eq!(p.len(), probe.len());
    for (a, b) in p.iter().zip(&q) {
        let (a, b): (Vec<u32>, Vec<u32>) =
            (a.iter().map(|x| x.to_bits()).collect(), b.iter().map(|x| x.to_bits()).collect());
        assert_eq!(a, b, "bit-identical probabilities after reload");
    }
    let first = probe.first().ok_or("no probe")?;
    assert_eq!(model.classify(first)?, back.classify(first)?);
    Ok(())
}

#[test]
fn a_damaged_model_file_is_refused_with_its_reason() -> Result<(), Box<dyn std::error::Error>> {
    flowvision_models::init_torch();
    let dir = tempfile::tempdir()?;
    let good = small_training(8)?.to_file()?.to_bytes();
    let cases: Vec<(&str, Vec<u8>)> = vec![
        ("truncated", good.get(..good.len() / 2).ok_or("short")?.to_vec()),
        ("not json", b"\x7fELF garbage".to_vec()),
        ("empty", Vec::new()),
        // One weight changed, the checksum left as it was.
        ("altered", {
            let mut f = ModelFile::parse(&good, "good")?;
            let t = f.tensors.first_mut().ok_or("no tensor")?;
            let v = t.values.first_mut().ok_or("no value")?;
            *v += 1.0;
            f.to_bytes()
        }),
        // A shape that does not fit the network, checksum recomputed.
        ("reshaped", {
            let mut f = ModelFile::parse(&good, "good")?;
            if let Some(t) = f.tensors.first_mut() {
                t.values.push(0.5);
                t.shape = vec![i64::try_from(t.values.len())?];
            }
            f.checksum = flowvision_models::file::checksum(&f.tensors);
            f.to_bytes()
        }),
        ("another kind", {
            let mut f = ModelFile::parse(&good, "good")?;
            f.kind = "host_anomaly".into();
            f.to_bytes()
        }),
    ];
    for (name, bytes) in cases {
        let path = dir.path().join(format!("{}.json", name.replace(' ', "-")));
        std::fs::write(&path, &bytes)?;
        let err = HostClassifier::load(&path).err().ok_or(format!("{name}: a damaged model loaded"))?;
        let text = err.to_string();
        assert!(text.contains(&path.display().to_string()), "{name}: the message names the file: {text}");
        match (name, &err) {
            ("truncated" | "not json" | "empty", ModelError::Format { .. })
            | ("altered", ModelError::Checksum { .. })
            | ("reshaped" | "another kind", ModelError::Incompatible { .. }) => {}
            _ => return Err(format!("{name}: unexpected error {err:?}").into()),
        }
        println!("{name}: {text}");
    }
    let missing = HostClassifier::load(Path::new("/nonexistent/model.json")).err().ok_or("loaded nothing")?;
    assert!(matches!(missing, ModelError::Io { .. }), "{missing:?}");
    Ok(())
}

#[test]
fn the_shipped_classifier_tells_the_roles_apart() -> Result<(), Box<dyn std::error::Error>> {
    flowvision_models::init_torch();
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("weights/host-classes.json");
    let model = HostClassifier::load(&path)?;
    assert_eq!(model.detector(), "model:host_class@1");
    assert_eq!(model.classes(), class_names().as_slice());
    let classes = class_names();
    let test = labelled_hosts(424_242, 25, 1.0);
    let mut wrong = 0;
    for (v, y) in &test {
        let c = model.classify(v)?;
        if Some(c.class.as_str()) != classes.get(*y).copied() {
            wrong += 1;
        }
        assert!(c.confidence > 0.0 && c.confidence <= 1.0);
        assert!(!c.top_features.is_empty(), "a decision comes with its reasons");
    }
    println!("shipped classifier: {} of {} simulated hosts right", test.len() - wrong, test.len());
    assert!(wrong * 100 <= test.len() * 2, "{wrong} of {} wrong", test.len());
    Ok(())
}
