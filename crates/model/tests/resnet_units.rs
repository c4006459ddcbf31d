//! MS-ResNet pieces: the `mem_update` neuron (hand-computed sequence, fused op = composed ops,
//! forward and gradient), configuration checks, shapes and names of the three depths.

use candle_core::{DType, Device, Tensor, Var};
use snnkit_model::mem_update::{mem_update_composed, mem_update_t};
use snnkit_model::{MemUpdateConfig, MsResNet, MsResNetArch, MsResNetConfig};

#[test]
fn mem_update_hand_computed() {
    let cfg = MemUpdateConfig::default();
    // u = 0.6 (fires), 0.3 (reset: 0.6 is not carried), 0.3·0.25 + 0.45 = 0.525 (fires).
    let x = Tensor::new(&[[0.6f32], [0.3], [0.45]], &Device::Cpu).unwrap();
    let xv = Var::from_tensor(&x).unwrap();
    let (s, n) = mem_update_t(xv.as_tensor(), 3, &cfg).unwrap();
    assert_eq!(
        s.flatten_all().unwrap().to_vec1::<f32>().unwrap(),
        [1.0, 0.0, 1.0]
    );
    assert_eq!(n, 2);
    // dL/ds_t = 1: gu_2 = sg(0.525) = 1; gu_1 = sg(0.3) + 0.25·gu_2 = 1.25; gu_0 = sg(0.6) + 0 (reset).
    let g = s.sum_all().unwrap().backward().unwrap();
    let gx = g.get(xv.as_tensor()).unwrap().flatten_all().unwrap();
    assert_eq!(gx.to_vec1::<f32>().unwrap(), [1.0, 1.25, 1.0]);
}

#[test]
fn mem_update_fused_equals_composed() {
    let cfg = MemUpdateConfig::default();
    let x = (Tensor::randn(0f32, 1f32, (5, 3, 7, 11), &Device::Cpu).unwrap() * 0.6).unwrap();
    let gw = Tensor::randn(0f32, 1f32, (5, 3, 7, 11), &Device::Cpu).unwrap();
    let run = |fused: bool| {
        let v = Var::from_tensor(&x).unwrap();
        let (s, n) = if fused {
            mem_update_t(v.as_tensor(), 5, &cfg).unwrap()
        } else {
            mem_update_composed(v.as_tensor(), 5, &cfg).unwrap()
        };
        let g = (&s * &gw).unwrap().sum_all().unwrap().backward().unwrap();
        let gx = g.get(v.as_tensor()).unwrap().flatten_all().unwrap();
        (
            s.flatten_all().unwrap().to_vec1::<f32>().unwrap(),
            n,
            gx.to_vec1::<f32>().unwrap(),
        )
    };
    let (a, b) = (run(true), run(false));
    assert_eq!(a.0, b.0, "spikes");
    assert_eq!(a.1, b.1, "spike count");
    assert!(a.0.contains(&1.0) && a.0.contains(&0.0));
    for (p, q) in a.2.iter().zip(&b.2) {
        assert!((p - q).abs() <= 1e-6 * (1.0 + q.abs()), "{p} vs {q}");
    }
}

fn narrow(arch: MsResNetArch) -> MsResNetConfig {
    MsResNetConfig {
        num_classes: 7,
        height: 64,
        width: 32,
        width_mult: 0.0625,
        ..MsResNetConfig::preset(arch)
    }
}

#[test]
fn shapes_and_names_of_the_three_depths() {
    for (arch, blocks) in [
        (MsResNetArch::ResNet18, 8),
        (MsResNetArch::ResNet34, 16),
        (MsResNetArch::ResNet104, 51),
    ] {
        let cfg = narrow(arch);
        let net = MsResNet::new(&cfg, &Device::Cpu).unwrap();
        let x = Tensor::randn(0f32, 1f32, (2, 3, 64, 32), &Device::Cpu).unwrap();
        let tr = net.forward_trace(&x, true).unwrap();
        assert_eq!(tr.output.dims(), &[2, 7], "{arch:?}");
        let t = cfg.time_steps;
        let dims: Vec<Vec<usize>> = tr.stages.iter().map(|s| s.dims().to_vec()).collect();
        assert_eq!(
            dims,
            [
                vec![t, 2, 4, 32, 16],
                vec![t, 2, 4, 16, 8],
                vec![t, 2, 8, 8, 4],
                vec![t, 2, 16, 4, 2],
                vec![t, 2, 32, 2, 1],
            ],
            "{arch:?}"
        );
        let names: Vec<String> = net.named_parameters().into_iter().map(|(k, _)| k).collect();
        let count = |p: &str| names.iter().filter(|n| n.ends_with(p)).count();
        // One second conv per block; 8 SMAs (blocks 0 and 1 of 4 stages) with 4 scales each.
        assert_eq!(
            names
                .iter()
                .filter(|n| n.contains(".residual_function.") && n.ends_with("weight"))
                .filter(|n| !n.contains(".bn.")
                    && !n.contains("attention")
                    && !n.contains("S_Convs"))
                .count(),
            2 * blocks,
            "{arch:?}"
        );
        assert_eq!(count("C_before_attention_conv.weight"), 8, "{arch:?}");
        assert_eq!(count(".conv.bias"), 32, "{arch:?}");
        // Residual-branch last BN starts at 0, the others at 0.5 (tdBN), the SMA's at 1.
        let p: std::collections::HashMap<String, Var> =
            net.named_parameters().into_iter().collect();
        let first = |n: &str| {
            p[n].as_tensor()
                .flatten_all()
                .unwrap()
                .to_vec1::<f32>()
                .unwrap()[0]
        };
        assert_eq!(first("conv2_x.0.residual_function.6.bn.weight"), 0.0);
        assert_eq!(first("conv2_x.0.residual_function.3.bn.weight"), 0.5);
        assert_eq!(
            first("conv2_x.0.residual_function.2.S_Convs.0.bn.bn.weight"),
            1.0
        );
        if arch == MsResNetArch::ResNet104 {
            assert!(
                p.contains_key("conv1.2.bias") && p.contains_key("conv2_x.0.shortcut.1.weight")
            );
            assert_eq!(net.bias_grads_cancelled_by_bn().len(), 33);
        } else {
            assert!(
                p.contains_key("conv2_x.0.shortcut.0.weight") && !p.contains_key("conv1.0.bias")
            );
        }
    }
}

#[test]
fn config_checks() {
    let c = MsResNetConfig::default();
    assert_eq!(c.t_hidden(), 4); // int(6 // 1.5)
    assert_eq!(c.stage_widths(), [64, 128, 256, 512]);
    let bad = MsResNetConfig {
        width_mult: 0.01,
        ..c.clone()
    };
    let err = MsResNet::new(&bad, &Device::Cpu).unwrap_err().to_string();
    assert!(err.contains("without channels"), "{err}");
    let bad = MsResNetConfig {
        time_steps: 1,
        ..c.clone()
    };
    let err = MsResNet::new(&bad, &Device::Cpu).unwrap_err().to_string();
    assert!(err.contains("is zero"), "{err}");
    let net = MsResNet::new(&narrow(MsResNetArch::ResNet18), &Device::Cpu).unwrap();
    let wrong = Tensor::zeros((2, 1, 64, 32), DType::F32, &Device::Cpu).unwrap();
    assert!(net.forward_t(&wrong, false).is_err());
    // Odd sizes run through 18/34 (stride-2 convs round up) but not 104's AvgPool shortcuts.
    let odd = MsResNetConfig {
        height: 40,
        width: 36,
        ..narrow(MsResNetArch::ResNet34)
    };
    let net = MsResNet::new(&odd, &Device::Cpu).unwrap();
    let x = Tensor::zeros((1, 3, 40, 36), DType::F32, &Device::Cpu).unwrap();
    assert_eq!(net.forward_t(&x, false).unwrap().dims(), &[1, 7]);
    let err = MsResNet::new(
        &MsResNetConfig {
            arch: MsResNetArch::ResNet104,
            ..odd
        },
        &Device::Cpu,
    )
    .unwrap_err()
    .to_string();
    assert!(err.contains("multiple of 32"), "{err}");
}
