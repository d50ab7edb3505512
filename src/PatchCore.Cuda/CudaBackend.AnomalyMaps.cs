using PatchCore.Backends;

namespace PatchCore.Cuda;

/// <summary>AnomalyMaps (kernels/anomaly_maps.cu). CPU twin: Backends/Cpu/AnomalyMaps.cs.</summary>
public sealed partial class CudaBackend
{
    public DeviceTensor AnomalyMaps(DeviceTensor patchScores, int outH, int outW, float sigma)
    {
        OpContracts.AnomalyMaps(patchScores, outH, outW, sigma);
        int n = patchScores[0], gh = patchScores[1], gw = patchScores[2];
        var up = (CudaTensor)Allocate(n, outH, outW);
        Launch("upsample_bilinear", Grid(up.Length), 256, 0, [T(patchScores).Ptr, up.Ptr, I(n), I(gh), I(gw), I(outH), I(outW)]);
        if (!(sigma > 0)) return up;
        var taps = Resampling.GaussianWeightsSingle(sigma);
        int radius = taps.Length / 2;
        using var w = AllocBuffer(taps.Length * 4L);
        UploadRaw(w.Ptr, taps.AsSpan());
        var tmp = (CudaTensor)Allocate(n, outH, outW);
        var y = (CudaTensor)Allocate(n, outH, outW);
        Launch("blur_1d", Grid(up.Length), 256, 0, [up.Ptr, tmp.Ptr, I(n), I(outH), I(outW), w.Ptr, I(radius), I(1)]);
        Launch("blur_1d", Grid(up.Length), 256, 0, [tmp.Ptr, y.Ptr, I(n), I(outH), I(outW), w.Ptr, I(radius), I(0)]);
        up.Dispose();
        tmp.Dispose();
        return y;
    }
}
