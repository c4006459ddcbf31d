//! Training SMA-MS-ResNet-18: a few optimizer steps of a narrow network (with SMA, and with
//! SMA + AZO) on a fixed random batch lower the loss; checkpoints save and load by the authors'
//! `state_dict` names; the trainer's `[model] arch` selects the network.

use candle_core::{DType, Device, Tensor};
use snnkit_model::{AzoConfig, MsResNetArch, MsResNetConfig, Network, NetworkConfig};
use snnkit_train::{Loss, ModelConfig, Optimizer, OptimizerConfig, OptimizerKind};

fn narrow(azo: bool) -> MsResNetConfig {
    MsResNetConfig {
        arch: MsResNetArch::ResNet18,
        time_steps: 4,
        num_classes: 5,
        height: 32,
        width: 32,
        width_mult: 0.125,
        azo: azo.then_some(AzoConfig { rcr: 4, rtr: 2 }),
        init_seed: 7,
        ..MsResNetConfig::default()
    }
}

/// Loss of each of `steps` AdamW steps on one fixed batch (inputs and labels from `seed`).
fn train_losses(cfg: &MsResNetConfig, steps: usize) -> (Network, Vec<f32>) {
    let dev = Device::Cpu;
    let net = Network::new(&NetworkConfig::MsResNet(cfg.clone()), &dev).expect("build");
    let mut opt = Optimizer::new(
        OptimizerConfig {
            kind: OptimizerKind::AdamW,
            lr: 3e-3,
            weight_decay: 0.0,
            ..OptimizerConfig::default()
        },
        net.named_parameters(),
    );
    let b = 8;
    let x = Tensor::randn(0f32, 1f32, (b, 3, cfg.height, cfg.width), &dev).unwrap();
    let labels = Tensor::new(
        (0..b as u32)
            .map(|i| i % cfg.num_classes as u32)
            .collect::<Vec<_>>(),
        &dev,
    )
    .unwrap();
    let mut losses = Vec::new();
    for _ in 0..steps {
        let out = net.forward_t(&x, true).expect("forward");
        assert_eq!(out.dims(), &[1, b, cfg.num_classes]);
        let loss = Loss::Ce.compute(&out, &labels).unwrap();
        losses.push(loss.to_scalar::<f32>().unwrap());
        let grads = loss.backward().unwrap();
        let g = opt.grads(&grads);
        assert!(
            g.iter().filter(|g| g.is_some()).count() > net.named_parameters().len() / 2,
            "most parameters receive a gradient"
        );
        opt.step(&g).unwrap();
    }
    (net, losses)
}

fn check_falls(losses: &[f32], what: &str) {
    let (first, last) = (losses[0], *losses.last().unwrap());
    println!(
        "{what}: loss {first:.4} -> {last:.4} over {} steps",
        losses.len()
    );
    assert!(losses.iter().all(|l| l.is_finite()), "{what}: {losses:?}");
    assert!(last < 0.8 * first, "{what}: loss did not fall: {losses:?}");
}

#[test]
fn narrow_resnet18_with_sma_learns_and_checkpoints_by_reference_names() {
    let cfg = narrow(false);
    let (net, losses) = train_losses(&cfg, 12);
    check_falls(&losses, "SMA-MS-ResNet-18");

    // Save under the authors' names, load into a network with another init, same eval output.
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("resnet18.safetensors");
    net.save_safetensors(&path).unwrap();
    let saved = candle_core::safetensors::load(&path, &Device::Cpu).unwrap();
    for name in [
        "conv1.0.weight",
        "conv1.1.bn.running_mean",
        "conv2_x.0.residual_function.2.S_Convs.1.conv.weight",
        "conv2_x.0.residual_function.2.S_Convs.3.bn.bn.running_var",
        "conv2_x.0.residual_function.2.T_before_attention_conv.weight",
        "conv3_x.1.residual_function.6.bn.weight",
        "conv5_x.0.shortcut.1.bn.num_batches_tracked",
        "fc.weight",
    ] {
        assert!(saved.contains_key(name), "checkpoint lacks {name}");
    }
    let other = Network::new(
        &NetworkConfig::MsResNet(MsResNetConfig {
            init_seed: 99,
            ..cfg.clone()
        }),
        &Device::Cpu,
    )
    .unwrap();
    other.load_safetensors(&path).unwrap();
    let x = Tensor::randn(0f32, 1f32, (2, 3, 32, 32), &Device::Cpu).unwrap();
    let a = net.forward_t(&x, false).unwrap();
    let b = other.forward_t(&x, false).unwrap();
    let d = (a - b)
        .unwrap()
        .abs()
        .unwrap()
        .max_all()
        .unwrap()
        .to_scalar::<f32>()
        .unwrap();
    assert_eq!(d, 0.0, "reloaded network differs");

    // A checkpoint of another depth is refused by name, not silently half-loaded.
    let r34 = Network::new(
        &NetworkConfig::MsResNet(MsResNetConfig {
            arch: MsResNetArch::ResNet34,
            ..cfg
        }),
        &Device::Cpu,
    )
    .unwrap();
    let err = r34.load_safetensors(&path).unwrap_err().to_string();
    assert!(err.contains("missing tensor conv2_x.2."), "{err}");
}

#[test]
fn narrow_resnet18_with_sma_azo_learns() {
    let (_, losses) = train_losses(&narrow(true), 12);
    check_falls(&losses, "SMA-AZO-MS-ResNet-18");
}

#[test]
fn trainer_model_config_selects_the_architecture() {
    let mut m = ModelConfig {
        arch: "ms-resnet34".into(),
        resnet: MsResNetConfig {
            width_mult: 0.25,
            azo: Some(AzoConfig { rcr: 4, rtr: 2 }),
            ..MsResNetConfig::default()
        },
        ..ModelConfig::default()
    };
    match m.to_network(6, 10, [2, 64, 64], 1).unwrap() {
        NetworkConfig::MsResNet(c) => {
            assert_eq!(c.arch, MsResNetArch::ResNet34);
            assert_eq!((c.time_steps, c.num_classes, c.in_channels), (6, 10, 2));
            assert_eq!(c.stage_widths(), [16, 32, 64, 128]);
            assert_eq!(c.t_hidden(), 4);
            assert_eq!(c.azo, Some(AzoConfig { rcr: 4, rtr: 2 }));
        }
        other => panic!("expected a ResNet, got {other:?}"),
    }
    m.arch = "sma-vgg8".into();
    assert!(matches!(
        m.to_network(16, 11, [2, 64, 64], 1).unwrap(),
        NetworkConfig::Vgg8(_)
    ));
    m.arch = "resnet50".into();
    let err = m.to_network(6, 10, [2, 64, 64], 1).unwrap_err().to_string();
    assert!(err.contains("unknown MS-ResNet architecture"), "{err}");
    // Event frames [T, B, C, H, W] run through the ResNet too (one input per timestep).
    let net = Network::new(
        &NetworkConfig::MsResNet(MsResNetConfig {
            in_channels: 2,
            ..narrow(false)
        }),
        &Device::Cpu,
    )
    .unwrap();
    let frames = Tensor::ones((4, 3, 2, 32, 32), DType::F32, &Device::Cpu).unwrap();
    assert_eq!(net.forward_t(&frames, false).unwrap().dims(), &[1, 3, 5]);
}
