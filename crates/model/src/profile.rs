//! Opt-in wall-clock accounting per model part, for `snnkit bench step`'s breakdown: the
//! registry of [`snnkit_conv::profile`] (re-exported), so the convolution's own backward and
//! the model's ops report into one place.
//!
//! Forward parts: `conv` (the host blocks' convolutions with their bias), `sma_encoder_conv`,
//! `sma_attention`, `sma_combine`, `azo`, `batchnorm`, `lif`, `pool`, `head` (pooling, linear
//! layers and dropout of the classifier; its LIFs count as `lif`). Backward parts: `lif_bwd`,
//! `batchnorm_bwd`, `pool_bwd`, `conv_bwd`, `sma_encoder_conv_bwd` (a convolution's input and
//! weight gradients plus its bias gradient, named after the forward part that built it),
//! `sma_combine_bwd`. Times are exclusive (nested scopes do not double count), so parts add up.
//! `snnkit_train::bench` adds the phases around them (loss, the rest of the backward pass in
//! candle's autograd, the optimizer).

pub use snnkit_conv::profile::{
    backward_name, backward_part, current, enable, enabled, reset, scope, snapshot, Scope,
};
