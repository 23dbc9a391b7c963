//! A small fully-connected network (ReLU between layers, none after the last) whose
//! weights move to and from [`NamedTensor`]s.

use crate::error::ModelError;
use crate::file::NamedTensor;
use tch::{nn, nn::Module, Device, Kind, Tensor};

/// The network and the variables it owns.
pub struct Mlp {
    vs: nn::VarStore,
    layers: Vec<nn::Linear>,
    widths: Vec<usize>,
}

impl std::fmt::Debug for Mlp {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Mlp").field("widths", &self.widths).finish()
    }
}

fn dim(w: usize) -> i64 {
    i64::try_from(w).unwrap_or(i64::MAX)
}

impl Mlp {
    /// A network with these layer widths (input first), initialised from `seed`.
    pub fn new(widths: &[usize], seed: u64) -> Mlp {
        // libtorch's generator is global: seeding right before creating the variables,
        // with no other network being created in between (the lock; tests and the
        // console's training task may build networks on several threads), makes the
        // initial weights a function of the seed alone.
        static INIT: std::sync::Mutex<()> = std::sync::Mutex::new(());
        let _guard = INIT.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        tch::manual_seed(i64::from_le_bytes(seed.to_le_bytes()));
        let vs = nn::VarStore::new(Device::Cpu);
        let root = vs.root();
        let layers = widths
            .windows(2)
            .enumerate()
            .filter_map(|(i, w)| {
                let (a, b) = (w.first()?, w.get(1)?);
                Some(nn::linear(&root / format!("l{i}"), dim(*a), dim(*b), Default::default()))
            })
            .collect();
        Mlp { vs, layers, widths: widths.to_vec() }
    }

    /// Layer widths, input first.
    pub fn widths(&self) -> &[usize] {
        &self.widths
    }

    /// The variables, for an optimizer.
    pub fn var_store(&self) -> &nn::VarStore {
        &self.vs
    }

    /// The variables, to freeze them.
    pub fn var_store_mut(&mut self) -> &mut nn::VarStore {
        &mut self.vs
    }

    /// Runs the network on a `[batch, inputs]` tensor.
    pub fn forward(&self, x: &Tensor) -> Tensor {
        let last = self.layers.len().saturating_sub(1);
        let mut h = x.shallow_clone();
        for (i, l) in self.layers.iter().enumerate() {
            h = l.forward(&h);
            if i < last {
                h = h.relu();
            }
        }
        h
    }

    /// The weights, sorted by name.
    pub fn export(&self) -> Result<Vec<NamedTensor>, ModelError> {
        let mut vars: Vec<(String, Tensor)> = self.vs.variables().into_iter().collect();
        vars.sort_by(|a, b| a.0.cmp(&b.0));
        vars.into_iter()
            .map(|(name, t)| {
                let shape = t.size();
                let values = Vec::<f32>::try_from(t.detach().to_kind(Kind::Float).flatten(0, -1))?;
                Ok(NamedTensor { name, shape, values })
            })
            .collect()
    }

    /// A network with these widths holding these weights (every variable must be given,
    /// with its shape).
    pub fn import(widths: &[usize], tensors: &[NamedTensor], what: &str) -> Result<Mlp, ModelError> {
        let m = Mlp::new(widths, 0);
        let mut vars = m.vs.variables();
        if vars.len() != tensors.len() {
            return Err(ModelError::Incompatible {
                what: what.to_owned(),
                reason: format!("{} tensors for a network of {} variables", tensors.len(), vars.len()),
            });
        }
        for t in tensors {
            let Some(var) = vars.get_mut(&t.name) else {
                return Err(ModelError::Incompatible {
                    what: what.to_owned(),
                    reason: format!("unknown tensor {}", t.name),
                });
            };
            if var.size() != t.shape {
                return Err(ModelError::Incompatible {
                    what: what.to_owned(),
                    reason: format!(
                        "tensor {} has shape {:?}, the network wants {:?}",
                        t.name,
                        t.shape,
                        var.size()
                    ),
                });
            }
            let src = Tensor::from_slice(&t.values).reshape(t.shape.as_slice());
            tch::no_grad(|| var.copy_(&src));
        }
        Ok(m)
    }
}

/// A `[rows, cols]` float tensor from rows of equal length.
pub fn matrix<const N: usize>(rows: &[[f32; N]]) -> Tensor {
    let flat: Vec<f32> = rows.iter().flat_map(|r| r.iter().copied()).collect();
    Tensor::from_slice(&flat).reshape([dim(rows.len()), dim(N)])
}

/// The mean of each column (the reference point of explanations).
pub fn column_means<const N: usize>(rows: &[[f32; N]]) -> Vec<f32> {
    let mut m = vec![0f64; N];
    for r in rows {
        for (acc, v) in m.iter_mut().zip(r) {
            *acc += f64::from(*v);
        }
    }
    let n = rows.len().max(1) as f64;
    m.into_iter().map(|s| (s / n) as f32).collect()
}
