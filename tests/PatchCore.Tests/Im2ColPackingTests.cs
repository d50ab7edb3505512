using PatchCore.Backends;
using PatchCore.Backends.Cpu;

namespace PatchCore.Tests;

/// <summary>The gather packer for small images must write exactly the panels the run-copy packer writes.</summary>
public unsafe class Im2ColPackingTests
{
    [Theory]
    [InlineData(5, 14, 14, 3, 1, 0, 9 * 5, 7)]     // layer3 3x3 at 224: all of K, every panel (the last one partial)
    [InlineData(4, 14, 14, 3, 1, 13, 20, 2)]      // a K block that starts mid-channel, two panels from pixel 13·32
    [InlineData(3, 7, 9, 3, 1, 0, 27, 3)]          // non-square, fewer pixels (63) than 3 panels: zero columns
    [InlineData(2, 16, 5, 1, 0, 0, 2, 3)]          // 1x1, no padding
    [InlineData(2, 6, 6, 5, 2, 0, 50, 2)]          // 5x5 with pad 2
    public void GatherPanelsEqualRunCopyPanels(int cin, int h, int w, int k, int pad, int firstPixelPanel, int kc, int panels)
    {
        var spec = new ConvSpec(cin, 8, k, k, 1, pad, pad, pad, pad);
        int oh = spec.OutH(h), ow = spec.OutW(w), pixels = oh * ow;
        int k0 = Math.Min(cin * k * k - kc, 4), j0 = firstPixelPanel * GemmKernel.NR;
        var x = new float[cin * h * w];
        var rng = new Random(cin * 100 + h + k);
        for (int i = 0; i < x.Length; i++) x[i] = (float)(rng.NextDouble() * 2 - 1);
        var runs = new float[panels * kc * GemmKernel.NR];
        var gathered = new float[runs.Length];
        Array.Fill(runs, float.NaN);
        Array.Fill(gathered, float.NaN);
        fixed (float* px = x, pr = runs, pg = gathered)
        {
            Im2ColPacking.ForceRuns = true;
            try { Im2ColPacking.Pack(px, spec, h, w, ow, pixels, k0, kc, j0, panels, pr); }
            finally { Im2ColPacking.ForceRuns = false; }
            Im2ColPacking.Pack(px, spec, h, w, ow, pixels, k0, kc, j0, panels, pg);
        }
        Assert.DoesNotContain(runs, float.IsNaN);
        Assert.Equal(runs, gathered);
    }
}
