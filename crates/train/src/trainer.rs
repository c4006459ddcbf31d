//! The training loop: epochs of train mode (AZO and dropout on) then eval mode over the test
//! split, the cosine schedule stepped per epoch, checkpoints, metrics, curves and resume.
//!
//! Determinism: the loader's batches are a pure function of `(seed, epoch)`, parameters are
//! initialised from `seed`, and the dropout RNG state is saved in every checkpoint, so on the CPU
//! a run stopped after epoch k and resumed ends with the same weights and metrics as one that
//! never stopped.

use crate::checkpoint::{self, from_hex32, to_hex, CheckpointMeta};
use crate::config::{ScheduleKind, TrainConfig};
use crate::data::device_name;
use crate::error::{Error, Result};
use crate::eval::{correct_count, evaluate};
use crate::metrics::{read_jsonl, write_json, write_jsonl, EpochMetrics, Progress, Summary};
use crate::net::build_network;
use crate::optim::{clip_grad_norm, CosineAnnealingLr, Optimizer};
use crate::plot;
use crate::source::DataSource;
use candle_core::{Device, Tensor};
use snnkit_model::{Network, NetworkConfig};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Instant;

/// File names inside a run folder.
pub mod files {
    /// The resolved configuration.
    pub const CONFIG: &str = "config.toml";
    /// One JSON object per epoch.
    pub const METRICS: &str = "metrics.jsonl";
    /// Checkpoint after the latest epoch.
    pub const LAST: &str = "last.safetensors";
    /// Checkpoint of the best test accuracy.
    pub const BEST: &str = "best.safetensors";
    /// Loss and accuracy curves.
    pub const CURVES: &str = "curves.png";
    /// Final summary.
    pub const SUMMARY: &str = "summary.json";
}

/// Where and how to run.
#[derive(Debug, Clone)]
pub struct TrainOptions {
    /// Cache folder (holding `train.h5`/`test.h5`, or a `CACHE_DIR/<dataset>/<setting>/` root);
    /// for a configuration with an `[images]` table, the image dataset root instead (ImageFolder
    /// `ROOT/{train,val}/<class>/*` or CIFAR-10 batches; `snnkit train --data`).
    pub cache: PathBuf,
    /// Run folder (created if needed).
    pub out: PathBuf,
    /// Device for the model and batches.
    pub device: Device,
    /// Continue from `out/last.safetensors` when it exists.
    pub resume: bool,
    /// Stop after this epoch (as a run killed there would); `None` = run to `epochs`.
    pub stop_after: Option<usize>,
    /// Start from these weights (a safetensors `state_dict`, e.g. from `snnkit convert-weights`)
    /// instead of the seeded initialisation; ignored when resuming a run.
    pub init_from: Option<PathBuf>,
}

/// What [`train`] returns.
#[derive(Debug, Clone)]
pub struct RunResult {
    /// The run folder.
    pub out: PathBuf,
    /// The summary written to `summary.json`.
    pub summary: Summary,
    /// Every epoch's metrics (including those of earlier, resumed-from sessions).
    pub metrics: Vec<EpochMetrics>,
    /// True when `--resume` found every planned epoch done: nothing was trained or rewritten.
    pub already_complete: bool,
}

/// Trains `cfg` on the cache of `opts`, writing the run folder. See the module docs.
pub fn train(
    cfg: &TrainConfig,
    opts: &TrainOptions,
    progress: &mut dyn Progress,
) -> Result<RunResult> {
    let dev = &opts.device;
    let out = &opts.out;
    let last_path = out.join(files::LAST);
    if !opts.resume && last_path.exists() {
        return Err(Error::Config {
            origin: out.display().to_string(),
            message: "the run folder already holds a run (last.safetensors); pass --resume to continue it or choose another folder".into(),
        });
    }
    let train_loader = DataSource::open(&opts.cache, cfg, &cfg.data.train_split, true, dev)?;
    let test_loader = DataSource::open(&opts.cache, cfg, &cfg.data.test_split, false, dev)?;
    let shape = train_loader.shape();
    if !shape.accepts(&test_loader.shape()) {
        return Err(Error::CacheLayout {
            path: test_loader.path(),
            message: "train and test splits differ in shape or class count".into(),
        });
    }
    if train_loader.batches_per_epoch() == 0 {
        // Checked before the run folder exists, so a refused run leaves nothing behind.
        return Err(Error::CacheLayout {
            path: train_loader.path(),
            message: match train_loader.len() {
                0 => "the training split holds no samples".into(),
                n => format!(
                    "{n} training samples make no full batch of {}: lower the batch size to at most {n} (snnkit train --batch-size N, or data.batch_size)",
                    cfg.data.batch_size
                ),
            },
        });
    }
    std::fs::create_dir_all(out).map_err(|e| Error::io(out, e))?;
    let class_names = train_loader.class_names();
    let model = build_network(cfg, &shape, dev)?;
    if let Some(w) = &opts.init_from {
        if !(opts.resume && last_path.exists()) {
            checkpoint::load_weights(model.store(), w)?;
            progress.message(&format!("starting from the weights in {}", w.display()));
        }
    }
    let mut opt = Optimizer::new(cfg.optimizer.clone(), model.named_parameters());
    let mut sched = CosineAnnealingLr::new(cfg.optimizer.lr, cfg.t_max(), cfg.schedule.eta_min);
    let (mut start_epoch, mut best_acc, mut best_epoch) = (0usize, 0f64, 0usize);
    let mut history: Vec<EpochMetrics> = Vec::new();
    let config_toml = cfg.to_toml_string()?;

    if opts.resume && last_path.exists() {
        let ck = checkpoint::load(&last_path, dev)?;
        let saved =
            TrainConfig::from_toml_str(&ck.meta.config_toml, &last_path.display().to_string())?;
        // Only the epoch count may change between sessions (to extend a run).
        let mut cmp = saved.clone();
        cmp.epochs = cfg.epochs;
        if &cmp != cfg {
            return Err(Error::Config {
                origin: last_path.display().to_string(),
                message: "the checkpoint was trained with another configuration (only `epochs` may change on --resume)".into(),
            });
        }
        if ck.meta.class_names != class_names {
            return Err(Error::Config {
                origin: last_path.display().to_string(),
                message: "the checkpoint was trained on a cache with other class names (--resume needs the same cache)".into(),
            });
        }
        model
            .store()
            .load_state_dict(&ck.model_tensors(), false, &last_path)?;
        opt.load_state(&ck.tensors)?;
        sched.last_epoch = ck.meta.sched_last_epoch;
        sched.lr = ck.meta.sched_lr;
        opt.set_lr(lr_for(cfg, &sched));
        let seed = from_hex32(&ck.meta.dropout_rng_seed);
        let pos = ck.meta.dropout_rng_word_pos.parse::<u128>().ok();
        match (seed, pos) {
            (Some(s), Some(p)) => model.set_dropout_rng_state(s, p),
            _ => {
                return Err(Error::Checkpoint {
                    path: last_path.clone(),
                    message: "bad dropout RNG state".into(),
                })
            }
        }
        start_epoch = ck.meta.epoch;
        best_acc = ck.meta.best_acc;
        best_epoch = ck.meta.best_epoch;
        if best_epoch == ck.meta.epoch {
            // The last epoch was the best: a kill between writing `last` and `best` left `best` older, so
            // write it again from `last` (the same bytes when it was not interrupted).
            let bytes = std::fs::read(&last_path).map_err(|e| Error::io(&last_path, e))?;
            checkpoint::write_atomic(&out.join(files::BEST), &bytes)?;
        }
        let mpath = out.join(files::METRICS);
        if mpath.exists() {
            history = read_jsonl(&mpath)?;
            // Lines written after the checkpoint (a kill between the two writes) are redone.
            history.retain(|m| m.epoch <= start_epoch);
        }
        if start_epoch >= cfg.epochs {
            // Nothing to train: report the run as it stands, rewrite nothing.
            return Ok(RunResult {
                out: out.clone(),
                summary: summarize(
                    cfg,
                    out,
                    &history,
                    start_epoch,
                    best_acc,
                    best_epoch,
                    &model,
                    dev,
                    (0.0, 0, 0.0),
                ),
                metrics: history,
                already_complete: true,
            });
        }
        if saved.epochs != cfg.epochs && cfg.schedule.kind == ScheduleKind::Cosine {
            if cfg.schedule.t_max == 0 {
                // The horizon is the epoch count: recompute it, from the closed form, because
                // torch's recursive update would keep a finished schedule at eta_min and train
                // the added epochs at a zero rate.
                sched = CosineAnnealingLr::resumed(
                    cfg.optimizer.lr,
                    cfg.t_max(),
                    cfg.schedule.eta_min,
                    start_epoch,
                );
                opt.set_lr(lr_for(cfg, &sched));
                progress.message(&format!(
                    "note: epochs changed from {} to {}; the cosine schedule's horizon is now {} epochs, epoch {} trains at lr {:.3e}",
                    saved.epochs, cfg.epochs, cfg.t_max(), start_epoch + 1, sched.lr
                ));
            } else {
                progress.message(&format!(
                    "note: epochs changed from {} to {}; schedule.t_max = {} is kept, epoch {} trains at lr {:.3e}",
                    saved.epochs, cfg.epochs, cfg.schedule.t_max, start_epoch + 1, sched.lr
                ));
            }
        }
        progress.message(&format!(
            "resuming {} after epoch {start_epoch} (best test accuracy so far {:.2}% at epoch {best_epoch})",
            out.display(),
            100.0 * best_acc
        ));
    }
    checkpoint::write_atomic(&out.join(files::CONFIG), config_toml.as_bytes())?;

    // SMA-VGG8 keeps the bare config its checkpoints always held; the others are tagged.
    let model_json = match model.config() {
        NetworkConfig::Vgg8(v) => serde_json::to_string(&v),
        other => serde_json::to_string(&other),
    }?;
    let session = Instant::now();
    let (mut session_samples, mut session_train_s) = (0usize, 0f64);
    let last_epoch = opts.stop_after.unwrap_or(cfg.epochs).min(cfg.epochs);
    for epoch in start_epoch + 1..=last_epoch {
        let lr = opt.lr();
        // ---- train ----
        let t0 = Instant::now();
        progress.start(epoch, cfg.epochs, "train", train_loader.batches_per_epoch());
        let (mut n, mut correct, mut loss_sum) = (0usize, 0usize, 0f64);
        for (bi, batch) in train_loader.epoch(epoch as u64).enumerate() {
            let batch = batch?;
            let b = batch.labels_vec.len();
            let out_t = model.forward_t(&batch.input, true)?;
            let loss = cfg
                .loss
                .compute_smoothed(&out_t, &batch.labels, cfg.label_smoothing)?;
            let lv = loss.to_scalar::<f32>()?;
            if !lv.is_finite() {
                return Err(Error::NonFiniteLoss {
                    value: lv,
                    epoch,
                    batch: bi,
                });
            }
            let store = loss.backward()?;
            let mut grads = opt.grads(&store);
            if cfg.clip_grad > 0.0 {
                clip_grad_norm(&mut grads, cfg.clip_grad)?;
            }
            opt.step(&grads)?;
            let (ok, _) = correct_count(&out_t, &batch.labels)?;
            n += b;
            correct += ok;
            loss_sum += lv as f64 * b as f64;
            let secs = t0.elapsed().as_secs_f64().max(1e-9);
            progress.batch(
                bi + 1,
                loss_sum / n as f64,
                correct as f64 / n as f64,
                n as f64 / secs,
            );
        }
        progress.finish();
        let train_s = t0.elapsed().as_secs_f64();
        // ---- test ----
        let stats = evaluate(&model, &test_loader, cfg, progress, epoch, cfg.epochs)?;
        // ---- schedule, best, files ----
        if cfg.schedule.kind == ScheduleKind::Cosine {
            sched.step();
        }
        opt.set_lr(lr_for(cfg, &sched));
        let improved = stats.accuracy > best_acc || best_epoch == 0;
        if improved {
            best_acc = stats.accuracy;
            best_epoch = epoch;
        }
        let (seed, pos) = model.dropout_rng_state();
        let meta = CheckpointMeta {
            epoch,
            config_toml: config_toml.clone(),
            model_json: model_json.clone(),
            sched_last_epoch: sched.last_epoch,
            sched_lr: sched.lr,
            dropout_rng_seed: to_hex(&seed),
            dropout_rng_word_pos: pos.to_string(),
            best_acc,
            best_epoch,
            class_names: class_names.clone(),
        };
        let ckpt = checkpoint::serialize(&last_path, &checkpoint_tensors(&model, &opt)?, &meta)?;
        // `last` before `best`: killed between the two, a resume still starts from the newest state (and
        // `best` is rewritten when that epoch is evaluated again).
        checkpoint::write_atomic(&last_path, &ckpt)?;
        if improved {
            checkpoint::write_atomic(&out.join(files::BEST), &ckpt)?;
        }
        let m = EpochMetrics {
            epoch,
            lr,
            train_loss: loss_sum / n.max(1) as f64,
            train_acc: correct as f64 / n.max(1) as f64,
            test_loss: stats.loss,
            test_acc: stats.accuracy,
            test_top5: stats.top5,
            best_test_acc: best_acc,
            best_epoch,
            train_samples: n,
            train_seconds: train_s,
            eval_seconds: stats.seconds,
            train_samples_per_s: n as f64 / train_s.max(1e-9),
            firing_rates: stats.firing_rates,
        };
        session_samples += n;
        session_train_s += train_s;
        history.push(m.clone());
        write_jsonl(&out.join(files::METRICS), &history)?;
        if let Err(e) = plot::curves(&out.join(files::CURVES), &history) {
            // A plot is a convenience: never lose a run over it.
            tracing::warn!("{e}");
        }
        progress.epoch(&m);
    }

    let summary = summarize(
        cfg,
        out,
        &history,
        start_epoch,
        best_acc,
        best_epoch,
        &model,
        dev,
        (
            session.elapsed().as_secs_f64(),
            session_samples,
            session_train_s,
        ),
    );
    write_json(&out.join(files::SUMMARY), &summary)?;
    Ok(RunResult {
        out: out.clone(),
        summary,
        metrics: history,
        already_complete: false,
    })
}

/// The run's [`Summary`]; `session` is this session's wall seconds, training samples and
/// training seconds.
#[allow(clippy::too_many_arguments)]
fn summarize(
    cfg: &TrainConfig,
    out: &Path,
    history: &[EpochMetrics],
    start_epoch: usize,
    best_acc: f64,
    best_epoch: usize,
    model: &Network,
    dev: &Device,
    session: (f64, usize, f64),
) -> Summary {
    let last = history.last();
    let mut files_map = BTreeMap::new();
    for f in [
        files::CONFIG,
        files::METRICS,
        files::LAST,
        files::BEST,
        files::CURVES,
        files::SUMMARY,
    ] {
        files_map.insert(f.to_string(), out.join(f).display().to_string());
    }
    let (seconds, samples, train_s) = session;
    Summary {
        name: cfg.name.clone(),
        epochs: last.map(|m| m.epoch).unwrap_or(start_epoch),
        best_test_acc: best_acc,
        best_epoch,
        final_test_acc: last.map(|m| m.test_acc).unwrap_or(0.0),
        final_train_loss: last.map(|m| m.train_loss).unwrap_or(f64::NAN),
        seconds,
        train_samples_per_s: samples as f64 / train_s.max(1e-9),
        parameters: model.store().num_parameters(),
        device: device_name(dev),
        files: files_map,
        note: "best_test_acc is the maximum test accuracy over epochs (best_epoch), the number the paper reports; final_test_acc is the last epoch's".into(),
    }
}

/// The learning rate the schedule gives for the next epoch.
fn lr_for(cfg: &TrainConfig, sched: &CosineAnnealingLr) -> f64 {
    match cfg.schedule.kind {
        ScheduleKind::Cosine => sched.lr,
        ScheduleKind::Constant => cfg.optimizer.lr,
    }
}

/// Model `state_dict` plus optimizer state, as a checkpoint stores them.
fn checkpoint_tensors(model: &Network, opt: &Optimizer) -> Result<BTreeMap<String, Tensor>> {
    let mut t = model.store().state_dict();
    t.extend(opt.state_tensors()?);
    Ok(t)
}

/// Reads the final weights of a run folder's `last.safetensors` as a name → values map (for
/// comparing runs).
pub fn final_weights(out: &Path) -> Result<BTreeMap<String, Vec<f32>>> {
    let ck = checkpoint::load(&out.join(files::LAST), &Device::Cpu)?;
    let mut m = BTreeMap::new();
    for (k, v) in ck.tensors {
        if v.dtype() == candle_core::DType::F32 {
            m.insert(k, v.flatten_all()?.to_vec1::<f32>()?);
        }
    }
    Ok(m)
}
