using PatchCore.Tensors;
using PatchCore.Weights;

namespace PatchCore.Backbone;

/// <summary>
/// A ResNet weight file of the right shapes filled with seeded random values (He-scaled convs, BatchNorm
/// statistics near identity): for tests and for benchmarks when no real weight file is at hand.
/// Tensor names and shapes follow torchvision (stem width = first stage width for basic blocks, a quarter
/// of it for bottlenecks; bottleneck inner width = stage width / 4 x <paramref name="widthFactor"/>).
/// </summary>
public static class RandomResNetWeights
{
    public static WeightFile Create(WeightMetadata m, int seed = 1, int widthFactor = 1)
    {
        var rng = new Random(seed);
        var t = new Dictionary<string, Tensor>();
        bool bottleneck = m.Block == "bottleneck";
        int stem = bottleneck ? m.StageWidths[0] / 4 : m.StageWidths[0];

        void Conv(string name, int cout, int cin, int k)
        {
            var w = new float[cout * cin * k * k];
            double sd = Math.Sqrt(2.0 / (cin * k * k));
            for (int i = 0; i < w.Length; i++) w[i] = (float)(sd * Gaussian(rng));
            t[name + ".weight"] = new Tensor(w, cout, cin, k, k);
        }
        void Bn(string name, int c)
        {
            t[name + ".weight"] = new Tensor(Uniform(rng, c, 0.3, 1.0), c);
            t[name + ".bias"] = new Tensor(Uniform(rng, c, -0.2, 0.2), c);
            t[name + ".running_mean"] = new Tensor(Uniform(rng, c, -0.2, 0.2), c);
            t[name + ".running_var"] = new Tensor(Uniform(rng, c, 0.5, 1.5), c);
        }

        Conv("conv1", stem, 3, 7); Bn("bn1", stem);
        int cin = stem;
        for (int s = 0; s < 4; s++)
        {
            int width = m.StageWidths[s];
            for (int b = 0; b < m.BlocksPerStage[s]; b++)
            {
                string p = $"layer{s + 1}.{b}";
                if (bottleneck)
                {
                    int mid = width / 4 * widthFactor;
                    Conv(p + ".conv1", mid, cin, 1); Bn(p + ".bn1", mid);
                    Conv(p + ".conv2", mid, mid, 3); Bn(p + ".bn2", mid);
                    Conv(p + ".conv3", width, mid, 1); Bn(p + ".bn3", width);
                }
                else
                {
                    Conv(p + ".conv1", width, cin, 3); Bn(p + ".bn1", width);
                    Conv(p + ".conv2", width, width, 3); Bn(p + ".bn2", width);
                }
                if (b == 0 && (s > 0 || cin != width))
                {
                    Conv(p + ".downsample.0", width, cin, 1); Bn(p + ".downsample.1", width);
                }
                cin = width;
            }
        }
        return new WeightFile(m, t, identity: $"random-{seed}");
    }

    /// <summary>Metadata of torchvision's ResNet18 (ImageNet RGB normalisation).</summary>
    public static WeightMetadata ResNet18Metadata() => new()
    {
        Architecture = "resnet18-random", Block = "basic", BlocksPerStage = [2, 2, 2, 2], StageWidths = [64, 128, 256, 512],
        ChannelOrder = "RGB", PixelScale = 255f, Mean = [0.485f, 0.456f, 0.406f], Std = [0.229f, 0.224f, 0.225f],
    };

    static float[] Uniform(Random rng, int n, double lo, double hi)
    {
        var v = new float[n];
        for (int i = 0; i < n; i++) v[i] = (float)(lo + (hi - lo) * rng.NextDouble());
        return v;
    }

    static double Gaussian(Random rng) =>
        Math.Sqrt(-2 * Math.Log(1 - rng.NextDouble())) * Math.Cos(2 * Math.PI * rng.NextDouble());
}
