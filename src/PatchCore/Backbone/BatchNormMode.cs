namespace PatchCore.Backbone;

/// <summary>How the trained stages' BatchNorm layers behave during training steps (evaluation always uses the
/// running statistics).</summary>
public enum BatchNormMode
{
    /// <summary>Running statistics fixed (γ and β still trained): the features' scale stays the pretrained one.</summary>
    Frozen,
    /// <summary>Batch statistics in the forward, running statistics updated (momentum 0.1, as PyTorch).</summary>
    Train,
}
