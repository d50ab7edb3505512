using PatchCore.Backends;

namespace PatchCore.Backbone;

/// <summary>
/// One residual block (basic: 2 convs; bottleneck: 3) of a trained stage:
/// out = relu(bn_last(conv_last(…relu(bn1(conv1(x)))…)) + shortcut(x)), shortcut = x or bn_d(conv_d(x)).
/// The backward follows the ITrainingBackend recipe: ReLU from its output, the residual add hands dy to both
/// branches, and the two gradients of x (main path and shortcut) are summed.
/// </summary>
sealed class TrainableBlock : IDisposable
{
    public required TrainableConvBn[] Convs;
    public TrainableConvBn? Downsample;

    public IEnumerable<TrainableParameter> Parameters()
    {
        foreach (var c in Convs) foreach (var p in c.Parameters()) yield return p;
        if (Downsample != null) foreach (var p in Downsample.Parameters()) yield return p;
    }

    /// <summary>The caches of one block pass: each conv's, the ReLU outputs between convs, the block output.</summary>
    public sealed class Cache : IDisposable
    {
        public TrainableConvBn.Cache[] Convs = [];
        public TrainableConvBn.Cache? Downsample;
        public DeviceTensor[] Hidden = [];   // relu outputs after conv i (i < last), inputs of conv i + 1
        public DeviceTensor? Output;         // owned by the caller (the next block's input)
        public void Dispose()
        {
            foreach (var c in Convs) c.Dispose();
            Downsample?.Dispose();
            foreach (var h in Hidden) h.Dispose();
        }
    }

    public DeviceTensor Forward(ITrainingBackend b, DeviceTensor x, bool batchStatistics, Cache cache)
    {
        int n = Convs.Length;
        cache.Convs = new TrainableConvBn.Cache[n];
        cache.Hidden = new DeviceTensor[n - 1];
        var t = x;
        for (int i = 0; i < n - 1; i++)
        {
            cache.Convs[i] = new TrainableConvBn.Cache();
            using var z = Convs[i].Forward(b, t, batchStatistics, cache.Convs[i]);
            t = cache.Hidden[i] = b.Relu(z);
        }
        cache.Convs[n - 1] = new TrainableConvBn.Cache();
        using var last = Convs[n - 1].Forward(b, t, batchStatistics, cache.Convs[n - 1]);
        DeviceTensor? shortcut = null;
        if (Downsample != null)
        {
            cache.Downsample = new TrainableConvBn.Cache();
            shortcut = Downsample.Forward(b, x, batchStatistics, cache.Downsample);
        }
        using var sum = b.Add(last, shortcut ?? x);
        shortcut?.Dispose();
        return cache.Output = b.Relu(sum);
    }

    /// <summary>Gradients of every parameter from dOut; returns dx when <paramref name="inputGradient"/>.</summary>
    public DeviceTensor? Backward(ITrainingBackend b, DeviceTensor dOut, Cache cache, bool inputGradient)
    {
        int n = Convs.Length;
        using var dz = b.ReluBackward(dOut, cache.Output!);
        // Main path: the last conv's input is the previous ReLU output, so every conv but the first needs dx.
        var dt = Convs[n - 1].Backward(b, dz, cache.Convs[n - 1], inputGradient: n > 1 || inputGradient);
        for (int i = n - 2; i >= 0; i--)
        {
            using var dr = b.ReluBackward(dt!, cache.Hidden[i]);
            dt!.Dispose();
            dt = Convs[i].Backward(b, dr, cache.Convs[i], inputGradient: i > 0 || inputGradient);
        }
        if (Downsample != null)
        {
            var ds = Downsample.Backward(b, dz, cache.Downsample!, inputGradient);
            if (!inputGradient) return null;
            var dx = b.Add(dt!, ds!);
            dt!.Dispose();
            ds!.Dispose();
            return dx;
        }
        if (!inputGradient) return null;
        var total = b.Add(dt!, dz);
        dt!.Dispose();
        return total;
    }

    public void Dispose()
    {
        foreach (var c in Convs) c.Dispose();
        Downsample?.Dispose();
    }
}
