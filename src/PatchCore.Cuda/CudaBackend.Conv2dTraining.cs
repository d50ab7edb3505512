using static PatchCore.Backends.TrainingContracts;
using PatchCore.Backends;
using PatchCore.Cuda.Native;

namespace PatchCore.Cuda;

/// <summary>
/// The training conv (ITrainingBackend.Conv2dForward / Conv2dBackward): the weight a plain tensor in PyTorch
/// layout [Cout, Cin, Kh, Kw] = row-major [Cout, K], K = Cin·Kh·Kw. kernels/conv2d.cu's im2col_f32 builds the
/// patch matrix col_n [K, OH·OW] per image (skipped for a 1x1 stride-1 unpadded conv, whose col_n is x_n itself),
/// cuBLAS does the three products, col2im_f32 folds dcol back onto dx and channel_sum_f32 sums the bias gradient.
/// Full fp32 GEMMs whatever AllowTf32 says (gradients are checked to 1e-4 against the reference).
/// Truth: Backends/Reference/Training/Conv2d.cs.
/// </summary>
public sealed unsafe partial class CudaBackend
{
    public DeviceTensor Conv2dForward(DeviceTensor x, DeviceTensor weight, DeviceTensor? bias, ConvSpec spec)
    {
        var (n, h, w) = CheckTrainingConv(x, weight, spec);
        if (bias != null) RequireShape(bias, "conv bias", spec.OutChannels);
        int oh = spec.OutH(h), ow = spec.OutW(w), hw = oh * ow, k = spec.InChannels * spec.KernelH * spec.KernelW;
        var y = (CudaTensor)Allocate(n, spec.OutChannels, oh, ow);
        Enter();
        _blas.Check(_blas.cublasSetMathMode(_blasHandle, Cublas.CUBLAS_DEFAULT_MATH), "cublasSetMathMode");
        float alpha = 1f, beta = 0f;
        var wt = T(weight).Ptr;
        // Per image, as the inference conv: Yᵀ [HW x Cout] = colᵀ [HW x K] · Wᵀ [K x Cout] in cuBLAS's column-major view.
        long perImage = (long)k * hw;
        bool direct = IsDirect(spec);
        int chunk = direct ? Math.Max(n, 1) : Im2colChunk(n, perImage * 4);
        for (int n0 = 0; n0 < n; n0 += chunk)
        {
            int c = Math.Min(chunk, n - n0);
            ulong col = direct ? T(x).Ptr + Offset(n0, spec.InChannels, hw) : Workspace(c * perImage * 4);
            if (!direct) Im2col(x, spec, oh, ow, n0, c, col);
            _blas.Check(_blas.cublasSgemmStridedBatched(_blasHandle, Cublas.CUBLAS_OP_N, Cublas.CUBLAS_OP_N, hw, spec.OutChannels, k,
                &alpha, col, hw, (long)k * hw, wt, k, 0, &beta, y.Ptr + Offset(n0, spec.OutChannels, hw), hw, (long)spec.OutChannels * hw, c),
                "cublasSgemmStridedBatched(training conv forward)");
        }
        if (bias != null)
            Launch("conv_epilogue", Grid(y.Length), 256, 0, [y.Ptr, T(bias).Ptr, 0UL, I(spec.OutChannels), I(hw), I(y.Length), I(0)]);
        return y;
    }

    public LayerGradients Conv2dBackward(DeviceTensor dy, DeviceTensor x, DeviceTensor weight, ConvSpec spec,
        bool inputGradient, bool biasGradient)
    {
        var (n, h, w) = CheckTrainingConv(x, weight, spec);
        int oh = spec.OutH(h), ow = spec.OutW(w), hw = oh * ow, k = spec.InChannels * spec.KernelH * spec.KernelW;
        RequireShape(dy, "conv output gradient", n, spec.OutChannels, oh, ow);
        var dyp = T(dy).Ptr;
        var wt = T(weight).Ptr;
        var dw = (CudaTensor)Allocate(weight.Shape);
        CudaTensor? dx = inputGradient ? (CudaTensor)Allocate(x.Shape) : null;
        CudaTensor? db = biasGradient ? (CudaTensor)Allocate(spec.OutChannels) : null;
        Enter();
        _blas.Check(_blas.cublasSetMathMode(_blasHandle, Cublas.CUBLAS_DEFAULT_MATH), "cublasSetMathMode");
        float alpha = 1f, zero = 0f, one = 1f;
        long perImage = (long)k * hw;
        bool direct = IsDirect(spec);
        // Per image: its patch matrix, and (when dx is asked for and col2im needs it) room for its dcol right after
        // the chunk's panels in the same workspace.
        long bytesPerImage = direct ? 0 : (inputGradient ? 2 : 1) * perImage * 4;
        int chunk = direct ? Math.Max(n, 1) : Im2colChunk(n, bytesPerImage);
        for (int n0 = 0; n0 < n; n0 += chunk)
        {
            int c = Math.Min(chunk, n - n0);
            ulong col = direct ? T(x).Ptr + Offset(n0, spec.InChannels, (long)h * w) : Workspace(c * bytesPerImage);
            if (!direct) Im2col(x, spec, oh, ow, n0, c, col);
            // dW [Cout, K] = Σ_n dY_n [Cout, HW] · col_nᵀ [HW, K]; column-major dWᵀ [K x Cout] = col_n·dY_nᵀ, i.e.
            // Sgemm(T, N, m = K, n = Cout, k = HW, A = col_n (lda = HW), B = dY_n (ldb = HW)). One GEMM per image in
            // image order, the first with β = 0 and the rest adding (β = 1): a fixed order, so dW repeats bit for bit.
            for (int i = 0; i < c; i++)
            {
                int img = n0 + i;
                _blas.Check(_blas.cublasSgemm_v2(_blasHandle, Cublas.CUBLAS_OP_T, Cublas.CUBLAS_OP_N, k, spec.OutChannels, hw,
                    &alpha, col + (ulong)(i * perImage * 4), hw, dyp + Offset(img, spec.OutChannels, hw), hw,
                    img == 0 ? &zero : &one, dw.Ptr, k), "cublasSgemm_v2(conv dW)");
            }
            if (dx == null) continue;
            // dcol_n [K, HW] = Wᵀ [K, Cout] · dY_n [Cout, HW]; column-major dcol_nᵀ [HW x K] = dY_nᵀ·W:
            // Sgemm(N, T, m = HW, n = K, k = Cout, A = dY_n (lda = HW), B = W (ldb = K)), strided over the chunk's images.
            // A 1x1 stride-1 unpadded conv's dcol IS dx; otherwise col2im gathers it onto dx.
            ulong dcol = direct ? dx.Ptr + Offset(n0, spec.InChannels, h * w) : col + (ulong)(c * perImage * 4);
            _blas.Check(_blas.cublasSgemmStridedBatched(_blasHandle, Cublas.CUBLAS_OP_N, Cublas.CUBLAS_OP_T, hw, k, spec.OutChannels,
                &alpha, dyp + Offset(n0, spec.OutChannels, hw), hw, (long)spec.OutChannels * hw, wt, k, 0,
                &zero, dcol, hw, perImage, c), "cublasSgemmStridedBatched(conv dx)");
            if (!direct)
                Launch("col2im_f32", Grid((long)c * spec.InChannels * h * w), 256, 0,
                    [dcol, dx.Ptr + Offset(n0, spec.InChannels, h * w), I(spec.InChannels), I(h), I(w), I(spec.KernelH), I(spec.KernelW),
                     I(spec.Stride), I(spec.PadTop), I(spec.PadLeft), I(oh), I(ow), I(c)]);
        }
        if (n == 0) Fill(dw, 0f);
        if (db != null) ChannelSum(dyp, db.Ptr, n, spec.OutChannels, hw);
        return new LayerGradients(dx, dw, db);
    }

    static bool IsDirect(ConvSpec s) =>
        s.KernelH == 1 && s.KernelW == 1 && s.Stride == 1 && s.PadTop == 0 && s.PadLeft == 0 && s.PadBottom == 0 && s.PadRight == 0;

    /// <summary>Byte offset of image `image` in an NCHW tensor of `channels` planes of `cells` floats.</summary>
    static ulong Offset(int image, int channels, long cells) => (ulong)image * (ulong)channels * (ulong)cells * 4;

    /// <summary>How many images' patch matrices (plus `extraPerImage` floats each, the backward's dcol) fit
    /// <see cref="Im2colBudgetBytes"/>: at least one, at most all.</summary>
    int Im2colChunk(int n, long bytesPerImage) => (int)Math.Clamp(Im2colBudgetBytes / Math.Max(bytesPerImage, 1), 1, Math.Max(n, 1));

    /// <summary>
    /// The patch matrices col [count][K][HW] of images n0..n0+count−1 of x, written at `col` (a workspace the next
    /// chunk reuses: its GEMMs are enqueued on the stream before the next im2col, so stream order keeps them
    /// apart). A 1x1 stride-1 unpadded conv needs none: its col is x itself.
    /// </summary>
    void Im2col(DeviceTensor x, ConvSpec s, int oh, int ow, int n0, int count, ulong col)
    {
        int h = x[2], w = x[3];
        long perImage = (long)s.InChannels * s.KernelH * s.KernelW * oh * ow;
        Launch("im2col_f32", Grid(count * perImage), 256, 0,
            [T(x).Ptr + Offset(n0, s.InChannels, (long)h * w), col, I(s.InChannels), I(h), I(w), I(s.KernelH), I(s.KernelW),
             I(s.Stride), I(s.PadTop), I(s.PadLeft), I(oh), I(ow), I(count)]);
    }

    /// <summary>out[c] = Σ over images and cells of v [images, channels, cells] (kernels/conv2d.cu channel_sum_f32).</summary>
    void ChannelSum(ulong v, ulong output, int images, int channels, long cells) =>
        Launch("channel_sum_f32", (uint)Math.Min(channels, 65535), 256, 0, [v, output, I(images), I(channels), I(cells)]);
}
