namespace PatchCore.Backends;

/// <summary>Learning rate per optimiser step: a plain function of the step, the same for every backend.</summary>
public static class LearningRateSchedule
{
    /// <summary>
    /// Linear warm-up then cosine decay (as transformers' get_cosine_schedule_with_warmup, plus a floor):
    /// for step s (0-based) of <paramref name="totalSteps"/>, with W warm-up steps,
    /// s &lt; W: lr = base·s/W (so step 0 trains with lr 0, and step W reaches base);
    /// s ≥ W: lr = min + (base − min)·(1 + cos(π·(s − W)/(T − W)))/2, i.e. base at the end of the warm-up, the
    /// mean of base and min half-way through the decay, min at s = T. Steps past T stay at min.
    /// Computed in double so every backend and PyTorch's LambdaLR see the same value.
    /// </summary>
    public static double CosineWithWarmup(int step, int totalSteps, int warmupSteps, double baseRate, double minRate = 0)
    {
        if (totalSteps <= 0) throw new ArgumentOutOfRangeException(nameof(totalSteps), "needs at least one step");
        if (warmupSteps < 0 || warmupSteps > totalSteps) throw new ArgumentOutOfRangeException(nameof(warmupSteps), $"warm-up {warmupSteps} outside 0..{totalSteps}");
        if (step < 0) throw new ArgumentOutOfRangeException(nameof(step));
        if (step < warmupSteps) return baseRate * step / warmupSteps;
        if (step >= totalSteps) return minRate;
        double progress = (double)(step - warmupSteps) / (totalSteps - warmupSteps);
        return minRate + (baseRate - minRate) * 0.5 * (1 + Math.Cos(Math.PI * progress));
    }
}
