//! PyTorch checkpoint import: the zip format `torch.save` has written since PyTorch 1.6, read with
//! candle's pickle support (`candle_core::pickle`) — no pickle interpreter of our own.
//!
//! A checkpoint is a zip archive `<name>/data.pkl` (the pickled object, tensors as persistent
//! references) plus one `<name>/data/<key>` entry per storage. Accepted objects: a bare
//! `state_dict` (an `OrderedDict` of tensors) or a dict holding one under `state_dict`, `model` or
//! `net`. DistributedDataParallel's `module.` prefix is stripped; floating-point tensors become
//! f32, integer ones (`num_batches_tracked`) stay i64. Strided and offset views are gathered into
//! contiguous tensors. Every error names the file, and the byte offset where one is known.

use crate::error::{Error, Result};
use candle_core::pickle::{Object, Stack};
use candle_core::{DType, Device, Tensor};
use std::collections::BTreeMap;
use std::io::{Cursor, Read, Seek};
use std::path::{Path, PathBuf};

/// Keys under which a checkpoint dict may hold its `state_dict`, in the order they are tried.
pub const STATE_DICT_KEYS: [&str; 3] = ["state_dict", "model", "net"];

/// The prefix DistributedDataParallel adds to every name.
pub const DDP_PREFIX: &str = "module.";

/// A PyTorch `state_dict` read from a checkpoint.
#[derive(Debug)]
pub struct TorchStateDict {
    /// The file read.
    pub path: PathBuf,
    /// Tensors by name (`module.` stripped), on the CPU: floats as f32, integers as i64 or u8.
    pub tensors: BTreeMap<String, Tensor>,
    /// The key of the top-level dict that held the `state_dict` (`None` = a bare one).
    pub source_key: Option<String>,
    /// Whether the names carried DistributedDataParallel's `module.` prefix.
    pub stripped_ddp_prefix: bool,
    /// Entries of the `state_dict` that are not tensors (e.g. `_metadata`), skipped.
    pub skipped: Vec<String>,
}

/// A candle error as one line: without the backtrace candle attaches when `RUST_BACKTRACE` is
/// set, and with context joined by `: `.
fn one_line(e: &candle_core::Error) -> String {
    match e {
        candle_core::Error::WithBacktrace { inner, .. } => one_line(inner),
        candle_core::Error::Context { inner, context } => format!("{context}: {}", one_line(inner)),
        other => other.to_string().replace('\n', " "),
    }
}

fn err(path: &Path, offset: Option<u64>, message: impl Into<String>) -> Error {
    Error::TorchImport {
        path: path.to_path_buf(),
        offset,
        message: message.into(),
    }
}

/// Reads a `torch.save` zip checkpoint into named tensors. See the module docs.
pub fn read_torch_checkpoint(path: &Path) -> Result<TorchStateDict> {
    let bytes = std::fs::read(path).map_err(|e| Error::io(path, e))?;
    check_signature(path, &bytes)?;
    let mut zip = zip::ZipArchive::new(Cursor::new(&bytes[..])).map_err(|e| {
        err(
            path,
            Some(bytes.len() as u64),
            format!(
                "truncated or damaged zip archive ({} bytes; its central directory cannot be read: {e})",
                bytes.len()
            ),
        )
    })?;
    let names: Vec<String> = zip
        .file_names()
        .map(|n| n.map(|n| n.into_owned()).unwrap_or_default())
        .collect();
    let pkl = names
        .iter()
        .filter(|n| n.ends_with("/data.pkl") && n.matches('/').count() == 1)
        .min()
        .cloned()
        .ok_or_else(|| {
            let shown: Vec<&str> = names.iter().take(5).map(String::as_str).collect();
            err(
                path,
                None,
                format!(
                    "a zip archive without <name>/data.pkl, so not a torch.save checkpoint (entries: {}{})",
                    shown.join(", "),
                    if names.len() > 5 { ", ..." } else { "" }
                ),
            )
        })?;
    let archive = pkl.trim_end_matches("/data.pkl").to_string();
    check_byteorder(path, &mut zip, &archive)?;
    let (pickle, pkl_start) = read_entry(path, &mut zip, &pkl, 64 << 20)?;
    let obj = unpickle(path, &pickle, pkl_start)?;
    let (dict, source_key) = find_state_dict(path, obj)?;
    let dir = PathBuf::from(format!("{archive}/data"));
    let mut raw: Vec<(String, Tensor)> = Vec::new();
    let mut skipped = Vec::new();
    for (k, v) in dict {
        let name = match k {
            Object::Unicode(s) => s,
            other => {
                return Err(err(
                    path,
                    None,
                    format!("state_dict key {other:?} is not a string"),
                ))
            }
        };
        if !is_tensor(&v) {
            skipped.push(name);
            continue;
        }
        let info = v
            .into_tensor_info(Object::Unicode(name.clone()), &dir)
            .map_err(|e| err(path, None, format!("tensor {name}: {}", one_line(&e))))?
            .ok_or_else(|| err(path, None, format!("tensor {name}: not a plain tensor")))?;
        let t = read_tensor(path, &mut zip, &info)?;
        raw.push((name, t));
    }
    if raw.is_empty() {
        return Err(err(path, None, "the state_dict holds no tensors"));
    }
    let stripped_ddp_prefix = raw.iter().all(|(n, _)| n.starts_with(DDP_PREFIX));
    let mut tensors = BTreeMap::new();
    for (name, t) in raw {
        let key = if stripped_ddp_prefix {
            name[DDP_PREFIX.len()..].to_string()
        } else {
            name
        };
        if tensors.insert(key.clone(), t).is_some() {
            return Err(err(path, None, format!("tensor name {key} appears twice")));
        }
    }
    Ok(TorchStateDict {
        path: path.to_path_buf(),
        tensors,
        source_key,
        stripped_ddp_prefix,
        skipped,
    })
}

/// Reads `input` (a `torch.save` checkpoint) and writes its tensors to `output` as safetensors,
/// atomically. Returns what was read.
pub fn convert_torch_checkpoint(input: &Path, output: &Path) -> Result<TorchStateDict> {
    let sd = read_torch_checkpoint(input)?;
    snnkit_model::store::save_tensors_atomic(&sd.tensors, output)?;
    Ok(sd)
}

/// A zip archive starts with a local file header `PK\x03\x04`; a legacy (pre-1.6) `torch.save`
/// file starts with a pickle protocol opcode (`0x80`, protocol 2) and torch's magic number.
fn check_signature(path: &Path, bytes: &[u8]) -> Result<()> {
    if bytes.starts_with(b"PK\x03\x04") {
        return Ok(());
    }
    if bytes.first() == Some(&0x80) && bytes.get(1).is_some_and(|&p| p <= 5) {
        return Err(err(
            path,
            Some(0),
            "a legacy (pre-1.6, non-zip) torch.save file; re-save it with PyTorch >= 1.6 \
             (torch.save(torch.load(f), f2)) to get the zip format",
        ));
    }
    let head: Vec<String> = bytes.iter().take(4).map(|b| format!("{b:02x}")).collect();
    Err(err(
        path,
        Some(0),
        if bytes.len() < 4 {
            format!("{} bytes: too short for a PyTorch checkpoint", bytes.len())
        } else {
            format!(
                "not a PyTorch checkpoint: no zip signature (found {})",
                head.join(" ")
            )
        },
    ))
}

/// Refuses big-endian storages (torch writes `<name>/byteorder` since 1.10; absent = little).
fn check_byteorder<R: Read + Seek>(
    path: &Path,
    zip: &mut zip::ZipArchive<R>,
    archive: &str,
) -> Result<()> {
    let name = format!("{archive}/byteorder");
    if zip.index_for_name(&name).is_none() {
        return Ok(());
    }
    let (b, off) = read_entry(path, zip, &name, 64)?;
    match b.as_slice() {
        b"little" => Ok(()),
        other => Err(err(
            path,
            Some(off),
            format!(
                "storages in byte order {:?}; only little-endian is supported",
                String::from_utf8_lossy(other)
            ),
        )),
    }
}

/// Reads a whole zip entry (at most `limit` bytes) and its data's byte offset in the file.
fn read_entry<R: Read + Seek>(
    path: &Path,
    zip: &mut zip::ZipArchive<R>,
    name: &str,
    limit: u64,
) -> Result<(Vec<u8>, u64)> {
    let mut f = zip
        .by_name(name)
        .map_err(|e| err(path, None, format!("zip entry {name}: {e}")))?;
    let start = f.data_start().unwrap_or(0);
    let size = f.size();
    if size > limit {
        return Err(err(
            path,
            Some(start),
            format!("zip entry {name} declares {size} bytes, more than the {limit} allowed"),
        ));
    }
    // The declared size comes from the file: reserve at most 64 MiB up front, grow on reading.
    let mut buf = Vec::with_capacity(size.min(64 << 20) as usize);
    f.read_to_end(&mut buf).map_err(|e| {
        err(
            path,
            Some(start + buf.len() as u64),
            format!("zip entry {name}: {e}"),
        )
    })?;
    Ok((buf, start))
}

/// Runs candle's pickle machine over `data.pkl`, reporting the file offset of a failing opcode.
fn unpickle(path: &Path, data: &[u8], start: u64) -> Result<Object> {
    let mut r = Cursor::new(data);
    let mut stack = Stack::empty();
    loop {
        let pos = r.position();
        match stack.read(&mut r) {
            Ok(true) => break,
            Ok(false) => {}
            Err(e) => {
                return Err(err(
                    path,
                    Some(start + pos),
                    format!("data.pkl byte {pos}: {}", one_line(&e)),
                ))
            }
        }
    }
    stack
        .finalize()
        .map_err(|e| err(path, Some(start), format!("data.pkl: {}", one_line(&e))))
}

/// Whether `o` is a pickled tensor (`torch._utils._rebuild_tensor_v2` and its wrappers).
fn is_tensor(o: &Object) -> bool {
    match o {
        Object::Reduce { callable, .. } => matches!(
            callable.as_ref(),
            Object::Class { module_name, class_name }
                if (module_name == "torch._utils" && class_name.starts_with("_rebuild_"))
                    || (module_name == "torch._tensor" && class_name == "_rebuild_from_type_v2")
        ),
        _ => false,
    }
}

fn holds_tensors(kv: &[(Object, Object)]) -> bool {
    kv.iter().any(|(_, v)| is_tensor(v))
}

fn describe(o: &Object) -> String {
    match o {
        Object::Dict(_) => "a dict".into(),
        Object::Reduce { callable, .. } | Object::Build { callable, .. } => match callable.as_ref()
        {
            Object::Class {
                module_name,
                class_name,
            } => format!("a pickled {module_name}.{class_name}"),
            other => describe(other),
        },
        Object::List(_) => "a list".into(),
        Object::Tuple(_) => "a tuple".into(),
        other => format!("{other:?}").chars().take(40).collect(),
    }
}

/// The `state_dict`: the top-level dict itself when it holds tensors, else its value under one of
/// [`STATE_DICT_KEYS`].
/// A pickled dict's entries.
type Entries = Vec<(Object, Object)>;

fn find_state_dict(path: &Path, obj: Object) -> Result<(Entries, Option<String>)> {
    let top = match obj {
        Object::Dict(kv) => kv,
        other => {
            return Err(err(
                path,
                None,
                format!(
                    "the checkpoint holds {}, not a state_dict (save model.state_dict())",
                    describe(&other)
                ),
            ))
        }
    };
    if holds_tensors(&top) {
        return Ok((top, None));
    }
    let keys: Vec<String> = top
        .iter()
        .filter_map(|(k, _)| match k {
            Object::Unicode(s) => Some(s.clone()),
            _ => None,
        })
        .collect();
    let mut top = top;
    for want in STATE_DICT_KEYS {
        if let Some(i) = top
            .iter()
            .position(|(k, _)| matches!(k, Object::Unicode(s) if s == want))
        {
            let (_, v) = top.swap_remove(i);
            return match v {
                Object::Dict(kv) if holds_tensors(&kv) => Ok((kv, Some(want.to_string()))),
                other => Err(err(
                    path,
                    None,
                    format!(
                        "`{want}` holds {}, not a state_dict of tensors (save model.state_dict())",
                        describe(&other)
                    ),
                )),
            };
        }
    }
    Err(err(
        path,
        None,
        format!(
            "no state_dict: the top-level dict holds no tensors and none of the keys {} (keys: {})",
            STATE_DICT_KEYS.join(", "),
            keys.join(", ")
        ),
    ))
}

/// Reads one tensor's storage and gathers its (possibly strided) view into a contiguous tensor.
fn read_tensor<R: Read + Seek>(
    path: &Path,
    zip: &mut zip::ZipArchive<R>,
    info: &candle_core::pickle::TensorInfo,
) -> Result<Tensor> {
    let name = &info.name;
    let esize = info.dtype.size_in_bytes();
    let dims = info.layout.dims().to_vec();
    let stride = info.layout.stride().to_vec();
    // candle stores the storage offset in bytes.
    let offset = info.layout.start_offset() / esize;
    // Sizes come from the file: checked arithmetic, so a crafted shape is an error, not an
    // overflow or a huge allocation.
    let overflow = || {
        err(
            path,
            None,
            format!("tensor {name}: shape {dims:?} / strides {stride:?} overflow"),
        )
    };
    let n = dims
        .iter()
        .try_fold(1usize, |a, &d| a.checked_mul(d))
        .ok_or_else(overflow)?;
    let span = if n == 0 {
        0
    } else {
        dims.iter()
            .zip(&stride)
            .try_fold(1usize, |a, (d, s)| a.checked_add((d - 1).checked_mul(*s)?))
            .ok_or_else(overflow)?
    };
    let needed = offset
        .checked_add(span)
        .and_then(|v| v.checked_mul(esize))
        .ok_or_else(overflow)?;
    // A view may repeat elements (stride 0), but never beyond what a state_dict could hold.
    if n.saturating_mul(esize) > (1usize << 34) {
        return Err(err(
            path,
            None,
            format!("tensor {name}: shape {dims:?} holds {n} elements, more than a checkpoint tensor can"),
        ));
    }
    let (data, start) = read_entry(
        path,
        zip,
        &info.path,
        info.storage_size.saturating_mul(esize) as u64,
    )?;
    if data.len() < needed {
        return Err(err(
            path,
            Some(start + data.len() as u64),
            format!(
                "tensor {name}: storage {} holds {} bytes, the view {dims:?} at offset {offset} needs {needed}",
                info.path,
                data.len()
            ),
        ));
    }
    // Element indices of the view in row-major order.
    let mut idx = Vec::with_capacity(n);
    let mut pos = vec![0usize; dims.len()];
    for _ in 0..n {
        idx.push(offset + pos.iter().zip(&stride).map(|(p, s)| p * s).sum::<usize>());
        for d in (0..dims.len()).rev() {
            pos[d] += 1;
            if pos[d] < dims[d] {
                break;
            }
            pos[d] = 0;
        }
    }
    let at = |i: usize| &data[i * esize..(i + 1) * esize];
    let cpu = &Device::Cpu;
    let t = match info.dtype {
        DType::F32 => Tensor::from_vec(
            idx.iter()
                .map(|&i| f32::from_le_bytes(at(i).try_into().unwrap_or([0; 4])))
                .collect::<Vec<f32>>(),
            dims,
            cpu,
        ),
        DType::F64 => Tensor::from_vec(
            idx.iter()
                .map(|&i| f64::from_le_bytes(at(i).try_into().unwrap_or([0; 8])) as f32)
                .collect::<Vec<f32>>(),
            dims,
            cpu,
        ),
        DType::F16 => Tensor::from_vec(
            idx.iter()
                .map(|&i| half::f16::from_le_bytes([at(i)[0], at(i)[1]]).to_f32())
                .collect::<Vec<f32>>(),
            dims,
            cpu,
        ),
        DType::BF16 => Tensor::from_vec(
            idx.iter()
                .map(|&i| half::bf16::from_le_bytes([at(i)[0], at(i)[1]]).to_f32())
                .collect::<Vec<f32>>(),
            dims,
            cpu,
        ),
        DType::I64 => Tensor::from_vec(
            idx.iter()
                .map(|&i| i64::from_le_bytes(at(i).try_into().unwrap_or([0; 8])))
                .collect::<Vec<i64>>(),
            dims,
            cpu,
        ),
        DType::U8 => Tensor::from_vec(
            idx.iter().map(|&i| at(i)[0]).collect::<Vec<u8>>(),
            dims,
            cpu,
        ),
        other => {
            return Err(err(
                path,
                Some(start),
                format!("tensor {name}: unsupported dtype {other:?}"),
            ))
        }
    };
    t.map_err(|e| {
        err(
            path,
            Some(start),
            format!("tensor {name}: {}", one_line(&e)),
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tensor() -> Object {
        Object::Reduce {
            callable: Box::new(Object::Class {
                module_name: "torch._utils".into(),
                class_name: "_rebuild_tensor_v2".into(),
            }),
            args: Box::new(Object::Tuple(vec![])),
        }
    }

    fn s(x: &str) -> Object {
        Object::Unicode(x.into())
    }

    #[test]
    fn finds_the_state_dict_bare_or_under_a_key() {
        let p = Path::new("c.pt");
        let bare = Object::Dict(vec![
            (s("w"), tensor()),
            (s("_metadata"), Object::Dict(vec![])),
        ]);
        let (kv, key) = find_state_dict(p, bare).unwrap();
        assert_eq!((kv.len(), key), (2, None));
        for k in STATE_DICT_KEYS {
            let wrapped = Object::Dict(vec![
                (s("epoch"), Object::Int(3)),
                (s(k), Object::Dict(vec![(s("w"), tensor())])),
            ]);
            let (kv, key) = find_state_dict(p, wrapped).unwrap();
            assert_eq!((kv.len(), key.as_deref()), (1, Some(k)));
        }
        // A pickled module instead of a state_dict, and a dict without tensors.
        let module = Object::Dict(vec![(
            s("model"),
            Object::Build {
                callable: Box::new(Object::Class {
                    module_name: "models".into(),
                    class_name: "VGG8".into(),
                }),
                args: Box::new(Object::None),
            },
        )]);
        let e = find_state_dict(p, module).unwrap_err().to_string();
        assert!(e.contains("`model` holds a pickled models.VGG8"), "{e}");
        let e = find_state_dict(p, Object::Dict(vec![(s("epoch"), Object::Int(3))]))
            .unwrap_err()
            .to_string();
        assert!(e.contains("keys: epoch") && !e.contains('\n'), "{e}");
    }
}
