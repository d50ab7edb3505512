using ILGPU;
using ILGPU.Runtime;
using PatchCore.Backends;

namespace PatchCore.Gpu;

/// <summary>A conv prepared for the GPU: weights packed k-major [Cin*Kh*Kw, Cout] so the GEMM's A tile loads
/// are coalesced, and the folded-BatchNorm bias.</summary>
internal sealed class GpuConvLayer : ConvLayer
{
    public GpuConvLayer(ConvSpec spec, GpuTensor weightT, GpuTensor bias) : base(spec)
    {
        WeightT = weightT;
        Bias = bias;
    }
    public GpuTensor WeightT { get; }
    public GpuTensor Bias { get; }

    public override void Dispose()
    {
        WeightT.Dispose();
        Bias.Dispose();
        base.Dispose();
    }
}

/// <summary>
/// Implicit im2col: B[k, col] with k = (ci, ky, kx) and col = (image, oy, ox) is read straight from the NCHW
/// input while the tile loads, so the K x (N*OH*OW) im2col matrix (9x the activations for a 3x3 conv) is never
/// written to memory. Threads walk col fastest: neighbouring output pixels read neighbouring input pixels.
/// </summary>
internal struct Im2colB : IGemmTileB
{
    public ArrayView<float> X;
    public int Cin, H, W, KH, KW, Stride, PadTop, PadLeft, OH, OW, K, N;

    public void LoadB(ArrayView<float> Bs, int k0, int n0, int tid)
    {
        // A thread's column is the same in all its loads (idx & 63 does not depend on r): decompose it once.
        int nn = tid & 63;
        int col = n0 + nn;
        int ohw = OH * OW;
        int img = col / ohw;
        int p = col - img * ohw;
        int oy = p / OW;
        int ox = p - oy * OW;
        int iy0 = oy * Stride - PadTop, ix0 = ox * Stride - PadLeft;
        int khw = KH * KW;
        for (int r = 0; r < TiledGemm.TileN * TiledGemm.TileK / TiledGemm.Threads; r++)
        {
            int kk = (tid >> 6) + r * (TiledGemm.Threads / TiledGemm.TileN);
            int k = k0 + kk;
            float v = 0f;
            if (col < N && k < K)
            {
                int ci = k / khw;
                int rem = k - ci * khw;
                int ky = rem / KW;
                int kx = rem - ky * KW;
                int iy = iy0 + ky, ix = ix0 + kx;
                if (iy >= 0 && iy < H && ix >= 0 && ix < W)
                    v = X[((img * Cin + ci) * H + iy) * W + ix];
            }
            Bs[kk * TiledGemm.TileN + nn] = v;
        }
    }
}

/// <summary>Conv epilogue: folded-BN bias, optional residual add, optional ReLU, written back as NCHW.
/// Fusing these saves two full passes over the activations per ResNet block.</summary>
internal struct ConvEpilogue : IGemmEpilogue
{
    public ArrayView<float> Y, Bias, Residual;
    public int HasResidual, Relu, Cout, OHW;

    public void Store(int co, int col, float acc)
    {
        int img = col / OHW;
        int p = col - img * OHW;
        int idx = (img * Cout + co) * OHW + p;
        float v = acc + Bias[co];
        if (HasResidual != 0) v += Residual[idx];
        if (Relu != 0 && v < 0f) v = 0f;
        Y[idx] = v;
    }
}

public sealed partial class GpuBackend
{
    Action<KernelConfig, KMajorA, Im2colB, ConvEpilogue, int, int, int> _conv = null!;

    void LoadConv()
    {
        _conv = _accelerator.LoadStreamKernel<KMajorA, Im2colB, ConvEpilogue, int, int, int>(
            TiledGemm.Kernel<KMajorA, Im2colB, ConvEpilogue>);
    }

    public ConvLayer CreateConv(ConvSpec spec, ReadOnlySpan<float> weight, ReadOnlySpan<float> bias)
    {
        OpContracts.CreateConv(spec, weight.Length, bias.Length);
        int k = spec.InChannels * spec.KernelH * spec.KernelW, cout = spec.OutChannels;
        // Repack [Cout, K] → [K, Cout] on the host once per layer (weights are small, the layer lives long).
        var packed = new float[k * cout];
        for (int co = 0; co < cout; co++)
            for (int j = 0; j < k; j++)
                packed[j * cout + co] = weight[co * k + j];
        var w = (GpuTensor)Upload(packed, k, cout);
        var b = (GpuTensor)Upload(bias, cout);
        return new GpuConvLayer(spec, w, b);
    }

    public DeviceTensor Conv2d(DeviceTensor x, ConvLayer conv, DeviceTensor? residual = null, bool relu = false)
    {
        var s = conv.Spec;
        var (oh, ow) = OpContracts.Conv2d(x, s, residual);
        var y = AllocateTensor(x[0], s.OutChannels, oh, ow);
        Conv2dInto(AsGpu(x), conv, residual is null ? null : AsGpu(residual), relu, y);
        return y;
    }

    /// <summary>The launch alone (no allocation), for Conv2d and the kernel benchmark.</summary>
    internal void Conv2dInto(GpuTensor x, ConvLayer conv, GpuTensor? residual, bool relu, GpuTensor y)
    {
        var layer = conv as GpuConvLayer ?? throw new ArgumentException("Conv2d: layer was not created by the gpu backend");
        var s = layer.Spec;
        int n = x[0], h = x[2], w = x[3];
        int oh = s.OutH(h), ow = s.OutW(w);
        int cols = n * oh * ow, k = s.InChannels * s.KernelH * s.KernelW;
        if (cols == 0 || s.OutChannels == 0) return;
        var a = new KMajorA { AT = layer.WeightT.View, M = s.OutChannels, K = k };
        var b = new Im2colB
        {
            X = x.View, Cin = s.InChannels, H = h, W = w, KH = s.KernelH, KW = s.KernelW, Stride = s.Stride,
            PadTop = s.PadTop, PadLeft = s.PadLeft, OH = oh, OW = ow, K = k, N = cols,
        };
        var e = new ConvEpilogue
        {
            Y = y.View, Bias = layer.Bias.View, Residual = residual?.View ?? layer.Bias.View,
            HasResidual = residual is null ? 0 : 1, Relu = relu ? 1 : 0, Cout = s.OutChannels, OHW = oh * ow,
        };
        _conv(TiledGemm.Config(s.OutChannels, cols), a, b, e, s.OutChannels, cols, k);
    }
}
