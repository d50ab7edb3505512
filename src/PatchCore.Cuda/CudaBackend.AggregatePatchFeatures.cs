using PatchCore.Backends;

namespace PatchCore.Cuda;

/// <summary>AggregatePatchFeatures (kernels/aggregate_patch_features.cu). CPU twin: Backends/Cpu/AggregatePatchFeatures.cs.</summary>
public sealed partial class CudaBackend
{
    public DeviceTensor AggregatePatchFeatures(DeviceTensor layer2, DeviceTensor layer3, AggregationSpec spec)
    {
        OpContracts.AggregatePatchFeatures(layer2, layer3, spec);
        int n = layer2[0], c2 = layer2[1], h2 = layer2[2], w2 = layer2[3], c3 = layer3[1], h3 = layer3[2], w3 = layer3[3];
        int d = spec.OutputDim(c2, c3);
        long rows = (long)n * h2 * w2;
        var y = (CudaTensor)Allocate(checked((int)rows), d);
        if (rows == 0) return y;
        if (spec.Mode == AggregationMode.Official)
        {
            Launch("aggregate_official", (uint)rows, 128, (uint)(2 * spec.PretrainDim * sizeof(float)),
                [T(layer2).Ptr, T(layer3).Ptr, y.Ptr, I(n), I(c2), I(h2), I(w2), I(c3), I(h3), I(w3), I(spec.PatchSize),
                 I(spec.PretrainDim), I(spec.TargetDim)]);
        }
        else
        {
            Launch("aggregate_anomalib", Grid(y.Length), 256, 0,
                [T(layer2).Ptr, T(layer3).Ptr, y.Ptr, I(n), I(c2), I(h2), I(w2), I(c3), I(h3), I(w3), I(spec.PatchSize)]);
        }
        return y;
    }
}
