namespace PatchCore.Weights.Onnx;

/// <summary>Input normalisation read from a preprocessing ONNX graph.</summary>
public sealed record InputNormalization(string ChannelOrder, float PixelScale, float[] Mean, float[] Std);

/// <summary>
/// Reads the preprocessing graph that ships beside the CNTK ResNet18 (ResNetPreprocess.onnx of
/// Microsoft.ML.DnnImageFeaturizer.ResNet18). Inspected with onnx 1.x, that graph is exactly:
///   OriginalInput [1,3,224,224] (ML.NET's pixel extractor: R,G,B planes, values 0..255, no scaling)
///   → Split(axis 1) into RInp, GInp, BInp → Concat(axis 1) of BInp, GInp, RInp   (reorders to B,G,R)
///   → Sub(MeanImage [1,3,224,224])                                              → PreprocessedInput.
/// So the ResNet itself takes BGR planes in 0..255 minus a mean image whose planes are already in BGR order.
/// The mean image is nearly flat (per-plane std 3-6 grey levels); its per-channel means
/// (B 103.06, G 115.90, R 123.15 — the classic Caffe ImageNet means) work for any input size, so we store
/// ChannelOrder "BGR", PixelScale 1, Mean = those plane means (double-precision average), Std 1,1,1.
/// Anything else in the graph (other ops, a Concat that is neither identity nor reversal, a mean of the
/// wrong shape) is an error naming the node: we do not guess.
/// </summary>
public static class OnnxPreprocess
{
    public static InputNormalization Read(string path)
    {
        var g = OnnxModel.Load(path);
        InvalidDataException Bad(string p) => new($"{path}: unsupported preprocessing graph: {p}");

        // Plane permutation from the original input (assumed R,G,B as ML.NET feeds it) to the net's input.
        int[]? perm = null;
        var splitParts = new Dictionary<string, int>(StringComparer.Ordinal);
        float[]? mean = null;
        foreach (var n in g.Nodes)
        {
            switch (n.OpType)
            {
                case "Split":
                    if ((n.Int("axis") ?? 0) != 1 || n.Outputs.Length != 3)
                        throw Bad($"{n.Describe} must split the 3 channels (axis 1)");
                    for (int i = 0; i < 3; i++) splitParts[n.Outputs[i]] = i;
                    break;
                case "Concat":
                    if ((n.Int("axis") ?? 0) != 1 || n.Inputs.Length != 3 || !n.Inputs.All(splitParts.ContainsKey))
                        throw Bad($"{n.Describe} must concatenate the 3 split planes on axis 1");
                    perm = n.Inputs.Select(i => splitParts[i]).ToArray();
                    break;
                case "Sub":
                    var init = n.Inputs.Length == 2 && g.Initializers.TryGetValue(n.Inputs[1], out var t) ? t : null;
                    if (init?.Data == null) throw Bad($"{n.Describe} must subtract a float initializer");
                    mean = PlaneMeans(init, Bad);
                    break;
                default:
                    throw Bad($"op '{n.OpType}' in node '{n.Name}' is not one of Split, Concat, Sub");
            }
        }
        if (mean == null) throw Bad("no Sub of a mean image found");
        string order = perm switch
        {
            null or [0, 1, 2] => "RGB",
            [2, 1, 0] => "BGR",
            _ => throw Bad($"channel permutation [{string.Join(",", perm)}] is neither RGB nor BGR"),
        };
        return new InputNormalization(order, 1f, mean, [1f, 1f, 1f]);
    }

    static float[] PlaneMeans(OnnxTensor t, Func<string, InvalidDataException> bad)
    {
        // [1,3,H,W], [3,H,W] or [3,1,1]: average each of the 3 planes.
        long[] d = t.Dims.SkipWhile((v, i) => i == 0 && v == 1 && t.Dims.Length == 4).ToArray();
        if (d.Length < 1 || d[0] != 3) throw bad($"mean tensor '{t.Name}' has dims [{string.Join(",", t.Dims)}], expected 3 planes");
        int plane = t.Data!.Length / 3;
        var means = new float[3];
        for (int c = 0; c < 3; c++)
        {
            double s = 0;
            for (int i = 0; i < plane; i++) s += t.Data[c * plane + i];
            means[c] = (float)(s / plane);
        }
        return means;
    }
}
