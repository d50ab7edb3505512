using PatchCore.Data;
using PatchCore.Pipeline;
using PatchCore.Tensors;
using PatchCore.Weights;

namespace PatchCore.Tests;

/// <summary>Small inputs for the pipeline tests: a random-weight ResNet built in memory and a tiny synthetic category.</summary>
public static class PipelineTestData
{
    /// <summary>A basic-block ResNet with one block per stage and random weights (He init, BN near identity).</summary>
    public static WeightFile TinyResNet(int seed, string identity = "")
    {
        var meta = new WeightMetadata
        {
            Architecture = "tiny-test", Block = "basic", BlocksPerStage = [1, 1, 1, 1], StageWidths = [64, 64, 96, 128],
            ChannelOrder = "RGB", PixelScale = 255f, Mean = [0.485f, 0.456f, 0.406f], Std = [0.229f, 0.224f, 0.225f],
        };
        var rng = new Random(seed);
        var tensors = new Dictionary<string, Tensor>();
        void Conv(string name, string bn, int cin, int cout, int k)
        {
            var w = new float[cout * cin * k * k];
            double std = Math.Sqrt(2.0 / (cin * k * k));
            for (int i = 0; i < w.Length; i++) w[i] = (float)(Gauss(rng) * std);
            tensors[name + ".weight"] = new Tensor(w, cout, cin, k, k);
            var g = new float[cout]; var b = new float[cout]; var m = new float[cout]; var v = new float[cout];
            for (int i = 0; i < cout; i++)
            {
                g[i] = (float)(0.8 + 0.4 * rng.NextDouble());
                b[i] = (float)(0.1 * Gauss(rng));
                m[i] = (float)(0.1 * Gauss(rng));
                v[i] = (float)(0.5 + rng.NextDouble());
            }
            tensors[bn + ".weight"] = new Tensor(g, cout);
            tensors[bn + ".bias"] = new Tensor(b, cout);
            tensors[bn + ".running_mean"] = new Tensor(m, cout);
            tensors[bn + ".running_var"] = new Tensor(v, cout);
        }
        Conv("conv1", "bn1", 3, 64, 7);
        int inC = 64;
        for (int s = 0; s < 4; s++)
        {
            int outC = meta.StageWidths[s];
            string p = $"layer{s + 1}.0.";
            Conv(p + "conv1", p + "bn1", inC, outC, 3);
            Conv(p + "conv2", p + "bn2", outC, outC, 3);
            if (s > 0 || inC != outC) Conv(p + "downsample.0", p + "downsample.1", inC, outC, 1);
            inC = outC;
        }
        return new WeightFile(meta, tensors, identity);
    }

    static double Gauss(Random r) => Math.Sqrt(-2 * Math.Log(1 - r.NextDouble())) * Math.Cos(2 * Math.PI * r.NextDouble());

    /// <summary>Small images, small crop and small features so a whole run takes a second on 2 cores.</summary>
    public static PatchCoreConfig TinyConfig(double coreset = 1.0) => new()
    {
        Resize = 64, Crop = 56, PretrainDim = 64, TargetDim = 64, Coreset = coreset, ProjectionDim = 16,
        StartPoints = 3, BatchSize = 4, Sigma = 2f, Threads = 2,
    };

    public static readonly SyntheticDataset.Options TinyData = new(Train: 8, TestGood: 3, TestDefect: 3, Size: 64, Seed: 1);

    /// <summary>A synthetic category in a fresh temporary root; returns the root.</summary>
    public static string TinyCategory(out MvtecDataset data)
    {
        string root = TestPaths.TempDir();
        SyntheticDataset.Ensure(root, "demo", TinyData);
        data = MvtecDataset.Open(root, "demo");
        return root;
    }
}
