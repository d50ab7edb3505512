using CommandLine;
using PatchCore.Backbone;
using PatchCore.Data;
using PatchCore.IO;
using PatchCore.Tensors;
using PatchCore.Weights;

namespace PatchCore.Cli.Commands;

/// <summary>
/// `pcnative features image.png --out f.safetensors`: the preprocessed input [1,3,crop,crop] and the backbone's
/// layer2 and layer3 maps (NCHW float32) and the official patch features [cells, 1024] made from them, for
/// cross-checking against other implementations.
/// </summary>
[Verb("features", HelpText = "Write the preprocessed input and the layer2/layer3 maps of one image to a safetensors file.")]
public sealed class FeaturesCommand : ICommand
{
    [Value(0, MetaName = "image", Required = true, HelpText = "Image file (PNG or JPEG).")]
    public string Image { get; set; } = "";

    [Option("out", Required = true, HelpText = "Output safetensors file (tensors input, layer2, layer3, patch_features).")]
    public string Out { get; set; } = "";

    [Option("weights", HelpText = "Weight file (default weights/resnet18-cntk.safetensors).")]
    public string? Weights { get; set; }

    [Option("backend", Default = "auto", HelpText = "auto | cpu | reference | gpu | cuda")]
    public string Backend { get; set; } = "auto";

    [Option("threads", Default = 0, HelpText = "CPU threads (0 = all cores).")]
    public int Threads { get; set; }

    [Option("resize", Default = 256, HelpText = "Shorter side resized to this before the centre crop.")]
    public int Resize { get; set; }

    [Option("crop", Default = 224, HelpText = "Centre crop size (the backbone input).")]
    public int Crop { get; set; }

    public int Execute()
    {
        string weightsPath = WeightLocator.Find(Weights ?? Path.Combine("weights", "resnet18-cntk.safetensors"));
        if (!File.Exists(weightsPath))
            throw new UserError($"{weightsPath}: weight file not found (./build.sh makes the default; or pcnative convert)");
        if (!File.Exists(Image)) throw new UserError($"{Image}: file not found");
        if (Crop < 1 || Resize < Crop) throw new UserError($"features: need 1 <= --crop ({Crop}) <= --resize ({Resize})");

        var weights = WeightFile.Load(weightsPath);
        var spec = new ResizeSpec(Resize, Crop);
        float[] input = Preprocessing.ToInput(ImageFile.Decode(Image), spec, weights.Metadata.ToNormalization());

        using var backend = BackendFactory.Create(new BackendFactory.Options(Backend, Threads));
        using var net = ResNet.Load(backend, weights);
        using var x = backend.Upload(input, 1, 3, Crop, Crop);
        var maps = net.Forward(x, "layer2", "layer3");
        var tensors = new Dictionary<string, Tensor> { ["input"] = new Tensor(input, 1, 3, Crop, Crop) };
        try
        {
            tensors["layer2"] = ToHost(backend, maps[0]);
            tensors["layer3"] = ToHost(backend, maps[1]);
            // The official patch features (ALGORITHM.md "Patch features"): one 1024-d row per layer2 cell.
            using var patches = backend.AggregatePatchFeatures(maps[0], maps[1], new Backends.AggregationSpec());
            tensors["patch_features"] = ToHost(backend, patches);
        }
        finally { foreach (var m in maps) m.Dispose(); }

        var metadata = new Dictionary<string, string>
        {
            ["image"] = Path.GetFileName(Image),
            ["weights"] = weights.Metadata.Architecture,
            ["weights_sha256"] = weights.Identity,
            ["backend"] = backend.Name,
            ["resize"] = Resize.ToString(System.Globalization.CultureInfo.InvariantCulture),
            ["crop"] = Crop.ToString(System.Globalization.CultureInfo.InvariantCulture),
        };
        Safetensors.Write(Out, tensors, metadata);
        Console.WriteLine($"{Out}: input {tensors["input"].ShapeString}, layer2 {tensors["layer2"].ShapeString}, " +
            $"layer3 {tensors["layer3"].ShapeString}, patch_features {tensors["patch_features"].ShapeString}");
        return 0;
    }

    static Tensor ToHost(Backends.IBackend backend, Backends.DeviceTensor t)
    {
        var data = new float[t.Length];
        backend.Download(t, data);
        return new Tensor(data, t.Shape);
    }
}
