using PatchCore.Backends;
using PatchCore.Backends.Cpu;

namespace PatchCore.Tests;

/// <summary>
/// Every packer (the shifted masked windows for stride-1 "same" convs, the same windows over the four phase planes
/// for stride-2 convs that halve the image, and the run copies for everything) must
/// write exactly the panels of the plain im2col definition: row k = (ci, ky, kx), column = output pixel, zero in
/// the padding and past the last pixel. Outputs are poisoned with NaN first, so an unwritten value fails.
/// </summary>
public unsafe class Im2ColPackingTests
{
    [Theory]
    // cin, h, w, k, stride, pads (top, left, bottom, right), first pixel panel, kc, panels
    [InlineData(5, 14, 14, 3, 1, 1, 1, 1, 1, 0, 45, 7)]      // layer3 3x3 at 224: all of K, every panel (the last one partial)
    [InlineData(4, 14, 14, 3, 1, 1, 1, 1, 1, 2, 20, 3)]      // a K block that starts mid-channel, panels from pixel 64
    [InlineData(3, 7, 9, 3, 1, 1, 1, 1, 1, 0, 27, 3)]        // non-square, fewer pixels (63) than 3 panels: zero columns
    [InlineData(2, 16, 5, 1, 1, 0, 0, 0, 0, 0, 2, 3)]        // 1x1, no padding
    [InlineData(2, 6, 6, 5, 1, 2, 2, 2, 2, 0, 50, 2)]        // 5x5 with pad 2
    [InlineData(3, 40, 37, 3, 1, 1, 1, 1, 1, 5, 27, 4)]      // rows wider than a panel (layer1/layer2 sizes)
    [InlineData(2, 9, 9, 7, 1, 3, 3, 3, 3, 0, 98, 3)]        // 7x7 same: windows that start before the first plane
    [InlineData(3, 10, 12, 3, 1, 0, 0, 0, 0, 0, 27, 4)]      // valid conv (output smaller than input): run copies
    [InlineData(3, 12, 12, 3, 1, 1, 1, 0, 0, 0, 27, 4)]      // asymmetric pads: run copies
    [InlineData(3, 28, 28, 3, 2, 1, 1, 0, 0, 0, 27, 7)]      // stride 2 (layer2/layer3 downsampling): phases
    [InlineData(3, 28, 28, 1, 2, 0, 0, 0, 0, 0, 3, 7)]       // the 1x1 /2 downsample: phases
    [InlineData(3, 40, 40, 7, 2, 3, 3, 2, 2, 1, 100, 3)]     // the stem's 7x7 /2 with CNTK's asymmetric pads: phases
    [InlineData(2, 15, 13, 3, 2, 1, 1, 1, 1, 0, 18, 2)]      // odd sizes, symmetric pads: phases of unequal size
    [InlineData(2, 15, 15, 3, 2, 1, 1, 0, 0, 0, 18, 2)]      // odd size whose output is smaller than its even phase: run copies
    public void PanelsEqualTheIm2ColDefinition(int cin, int h, int w, int k, int stride, int pt, int pl, int pb, int pr,
        int firstPixelPanel, int kc, int panels)
    {
        const int NR = GemmKernel.NR;
        var spec = new ConvSpec(cin, 8, k, k, stride, pt, pl, pb, pr);
        int oh = spec.OutH(h), ow = spec.OutW(w), pixels = oh * ow;
        int k0 = Math.Min(cin * k * k - kc, 4), j0 = firstPixelPanel * NR;
        var x = new float[cin * h * w];
        var rng = new Random(cin * 100 + h + k);
        for (int i = 0; i < x.Length; i++) x[i] = (float)(rng.NextDouble() * 2 - 1);

        var expected = new float[panels * kc * NR];
        for (int q = 0; q < panels; q++)
        for (int kk = 0; kk < kc; kk++)
        for (int u = 0; u < NR; u++)
        {
            int kIndex = k0 + kk, ci = kIndex / (k * k), ky = kIndex % (k * k) / k, kx = kIndex % k;
            int j = j0 + q * NR + u, oy = j / ow, ox = j % ow;
            int iy = oy * stride - pt + ky, ix = ox * stride - pl + kx;
            bool inside = j < pixels && iy >= 0 && iy < h && ix >= 0 && ix < w;
            expected[(q * kc + kk) * NR + u] = inside ? x[(ci * h + iy) * w + ix] : 0f;
        }

        foreach (bool forceRuns in new[] { false, true })
        foreach (bool avx2 in new[] { false, true }) // the AVX2 masked loads, on machines that have AVX-512 too
        {
            var packed = new float[expected.Length];
            Array.Fill(packed, float.NaN);
            Im2ColPacking.ForceRuns = forceRuns;
            GemmKernel.ForceVector256 = avx2;
            try
            {
                bool usesPhases = Im2ColPacking.UsesPhases(spec, h, w);
                var phases = new float[usesPhases ? Im2ColPacking.PhaseLength(spec, h, w) : 0];
                Array.Fill(phases, float.NaN); // cells no tap reads stay NaN
                fixed (float* px = x, pp = packed, ph = phases)
                {
                    if (usesPhases)
                        for (int ci = 0; ci < cin; ci++) Im2ColPacking.SplitPhases(px, spec, h, w, ci, ph);
                    Im2ColPacking.Pack(px, usesPhases ? ph : null, spec, h, w, ow, pixels, k0, kc, j0, panels, pp);
                }
            }
            finally { Im2ColPacking.ForceRuns = false; GemmKernel.ForceVector256 = false; }
            Assert.DoesNotContain(packed, float.IsNaN);
            Assert.Equal(expected, packed);
        }
    }
}
