using PatchCore.Backends;
using PatchCore.Cuda.Native;

namespace PatchCore.Cuda;

/// <summary>A folded conv on the device: weight [Cout, Cin*Kh*Kw] row-major and bias [Cout].</summary>
public sealed class CudaConvLayer : ConvLayer
{
    internal CudaConvLayer(ConvSpec spec, DeviceBuffer weight, DeviceBuffer bias) : base(spec)
    {
        Weight = weight;
        Bias = bias;
    }
    internal DeviceBuffer Weight { get; }
    internal DeviceBuffer Bias { get; }
    public override void Dispose()
    {
        Weight.Dispose();
        Bias.Dispose();
        base.Dispose();
    }
}

/// <summary>CreateConv and Conv2d (kernels/conv2d.cu around cuBLAS). CPU twin: Backends/Cpu/Conv2d.cs.</summary>
public sealed unsafe partial class CudaBackend
{
    /// <summary>im2col panels are built for as many images at once as fit in this much scratch memory.</summary>
    public long Im2colBudgetBytes { get; set; } = 1L << 30;

    public ConvLayer CreateConv(ConvSpec spec, ReadOnlySpan<float> weight, ReadOnlySpan<float> bias)
    {
        OpContracts.CreateConv(spec, weight.Length, bias.Length);
        Enter();
        var w = AllocBuffer(weight.Length * 4L);
        var b = AllocBuffer(bias.Length * 4L);
        UploadRaw(w.Ptr, weight);
        UploadRaw(b.Ptr, bias);
        return new CudaConvLayer(spec, w, b);
    }

    /// <summary>
    /// y = conv(x) + bias [+ residual] [ReLU] as GEMMs: per image, Y [Cout, OH*OW] = W [Cout, K] · col [K, OH*OW]
    /// (row-major, K = Cin*Kh*Kw). Column-major cuBLAS sees Yᵀ [HW x Cout] = colᵀ [HW x K] · Wᵀ [K x Cout]:
    /// Sgemm(N, N, m = HW, n = Cout, k = K, A = col (lda = HW), B = W (ldb = K), C = y_n (ldc = HW)), strided
    /// over the images (strideB = 0: the weight is shared). A 1x1 stride-1 unpadded conv uses x itself as col.
    /// TF32 tensor cores when the backend allows them. Then one epilogue kernel adds bias, residual, ReLU.
    /// </summary>
    public DeviceTensor Conv2d(DeviceTensor x, ConvLayer conv, DeviceTensor? residual = null, bool relu = false)
    {
        var (oh, ow) = OpContracts.Conv2d(x, conv.Spec, residual);
        var cl = conv as CudaConvLayer ?? throw new ArgumentException("conv layer was not created by the cuda backend");
        var s = cl.Spec;
        var xt = T(x);
        int n = x[0], h = x[2], w = x[3];
        int hw = oh * ow, k = s.InChannels * s.KernelH * s.KernelW;
        var y = (CudaTensor)Allocate(n, s.OutChannels, oh, ow);
        Enter();
        _blas.Check(_blas.cublasSetMathMode(_blasHandle, AllowTf32 ? Cublas.CUBLAS_TF32_TENSOR_OP_MATH : Cublas.CUBLAS_DEFAULT_MATH), "cublasSetMathMode");
        float alpha = 1f, beta = 0f;
        bool direct = s.KernelH == 1 && s.KernelW == 1 && s.Stride == 1 && s.PadTop == 0 && s.PadLeft == 0 && s.PadBottom == 0 && s.PadRight == 0;
        if (direct)
        {
            _blas.Check(_blas.cublasSgemmStridedBatched(_blasHandle, Cublas.CUBLAS_OP_N, Cublas.CUBLAS_OP_N, hw, s.OutChannels, k,
                &alpha, xt.Ptr, hw, (long)k * hw, cl.Weight.Ptr, k, 0, &beta, y.Ptr, hw, (long)s.OutChannels * hw, n), "cublasSgemmStridedBatched(conv 1x1)");
        }
        else
        {
            long perImage = (long)k * hw;
            int chunk = (int)Math.Clamp(Im2colBudgetBytes / (perImage * 4), 1, n);
            ulong col = Workspace((long)chunk * perImage * 4);
            for (int n0 = 0; n0 < n; n0 += chunk)
            {
                int c = Math.Min(chunk, n - n0);
                Launch("im2col_f32", Grid((long)c * perImage), 256, 0,
                [xt.Ptr + (ulong)n0 * (ulong)s.InChannels * (ulong)h * (ulong)w * 4, col, I(s.InChannels), I(h), I(w), I(s.KernelH), I(s.KernelW),
                 I(s.Stride), I(s.PadTop), I(s.PadLeft), I(oh), I(ow), I(c)]);
                _blas.Check(_blas.cublasSgemmStridedBatched(_blasHandle, Cublas.CUBLAS_OP_N, Cublas.CUBLAS_OP_N, hw, s.OutChannels, k,
                    &alpha, col, hw, perImage, cl.Weight.Ptr, k, 0, &beta, y.Ptr + (ulong)n0 * (ulong)s.OutChannels * (ulong)hw * 4,
                    hw, (long)s.OutChannels * hw, c), "cublasSgemmStridedBatched(conv)");
            }
        }
        Launch("conv_epilogue", Grid(y.Length), 256, 0,
            [y.Ptr, cl.Bias.Ptr, residual == null ? 0UL : T(residual).Ptr, I(s.OutChannels), I(hw), I(y.Length), I(relu ? 1 : 0)]);
        return y;
    }
}
