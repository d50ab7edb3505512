using PatchCore.Metrics;

namespace PatchCore.Tests;

public class MetricsTests
{
    [Fact]
    public void AurocOfASmallCaseByHand()
    {
        // Positives 0.35 and 0.8, negatives 0.1 and 0.4: of the 4 (positive, negative) pairs 0.35 > 0.1,
        // 0.35 < 0.4, 0.8 > 0.1, 0.8 > 0.4 → 3/4.
        Assert.Equal(0.75, Auroc.Compute([0.1f, 0.4f, 0.35f, 0.8f], [false, false, true, true]), 12);
        // A tie counts one half: positive 0.5 vs negatives 0.5 (½) and 0.2 (1) → 1.5/2.
        Assert.Equal(0.75, Auroc.Compute([0.5f, 0.5f, 0.2f], [true, false, false]), 12);
        Assert.Throws<ArgumentException>(() => Auroc.Compute([0.1f, 0.2f], [true, true]));
        Assert.Throws<ArgumentException>(() => Auroc.Compute([float.NaN, 0.2f], [true, false]));
    }

    // /usr/bin/python3 (numpy, sklearn, scipy) — the script that produced the constants below:
    //   rng = np.random.RandomState(0)
    //   s = np.round(rng.rand(200), 1).astype(np.float32); y = rng.rand(200) < 0.3
    //   roc_auc_score(y, s)                                   → 0.536917684305744
    //   p, r, t = precision_recall_curve(y, s); f1 = 2*p*r/(p+r); i = argmax(f1[:-1]) → f1[i] 0.5058365758754864, t[i] 0.1
    //   maps = np.round(rng.rand(3, 9, 11)*20).astype(np.float32)/20; gts = zeros((3,9,11), bool)
    //   gts[0,1:4,2:5] = gts[0,4,5] = gts[0,7:9,0:2] = True; gts[1,0,10] = gts[1,5:9,3:8] = True; maps[gts] += 0.3
    //   maps rounded to 2 decimals; roc_auc_score(gts.ravel(), maps.ravel()) → 0.8043075245365322
    //   AUPRO: the MVTec AD evaluation's compute_pro (scipy.ndimage.label with a 3x3 structure, cumulative
    //   FPR/PRO over descending scores, ties collapsed, (0,0) and (1,1) appended) and its trapezoid(x, y, x_max)
    //   with linear interpolation at x_max: /0.3 at 0.3 → 0.5081540936985482; at x_max 1.0 → 0.8243797709923664.
    static readonly float[] Scores = [0.5f,0.7f,0.6f,0.5f,0.4f,0.6f,0.4f,0.9f,1.0f,0.4f,0.8f,0.5f,0.6f,0.9f,0.1f,0.1f,0.0f,0.8f,0.8f,0.9f,1.0f,0.8f,0.5f,0.8f,0.1f,0.6f,0.1f,0.9f,0.5f,0.4f,0.3f,0.8f,0.5f,0.6f,0.0f,0.6f,0.6f,0.6f,0.9f,0.7f,0.4f,0.4f,0.7f,0.1f,0.7f,0.7f,0.2f,0.1f,0.3f,0.4f,0.6f,0.4f,1.0f,0.1f,0.2f,0.2f,0.7f,0.3f,0.5f,0.2f,0.2f,0.1f,0.7f,0.1f,0.2f,0.4f,0.8f,0.1f,0.8f,0.1f,1.0f,0.5f,1.0f,0.6f,0.7f,0.0f,0.3f,0.1f,0.3f,0.1f,0.3f,0.4f,0.1f,0.7f,0.6f,0.3f,0.5f,0.1f,0.6f,0.9f,0.3f,0.7f,0.1f,0.7f,0.3f,0.2f,0.6f,0.0f,0.8f,0.0f,0.7f,0.3f,0.7f,1.0f,0.2f,0.6f,0.6f,0.6f,0.2f,1.0f,0.4f,0.8f,0.7f,0.3f,0.8f,0.4f,0.9f,0.6f,0.9f,0.7f,0.7f,0.5f,1.0f,0.6f,0.4f,0.6f,0.0f,0.3f,0.7f,0.3f,0.6f,0.4f,0.1f,0.3f,0.6f,0.6f,0.6f,0.7f,0.7f,0.4f,0.9f,0.4f,0.4f,0.9f,0.8f,0.7f,0.1f,0.9f,0.7f,1.0f,0.1f,0.9f,0.2f,0.6f,0.1f,0.8f,0.8f,0.6f,0.4f,0.1f,0.7f,0.5f,0.7f,0.9f,1.0f,0.9f,0.0f,0.4f,0.7f,0.2f,0.5f,0.1f,0.2f,0.0f,0.8f,0.2f,0.3f,0.9f,0.7f,0.0f,0.2f,0.6f,0.6f,0.2f,0.9f,0.6f,0.5f,0.6f,0.7f,0.3f,0.4f,0.2f,0.2f,0.9f,0.7f,0.5f,0.2f,0.3f,0.1f,0.4f];
    const string Labels = "00011100000101100000001010010011011000100101000110000001000111100010100000100000100101000001010110000001011101011101000011101000101010001001010101000001000011001000000000000011000000000001001010100011";
    static readonly float[] Maps = [0.40f,0.95f,0.10f,0.95f,0.85f,0.45f,0.35f,0.25f,0.60f,0.05f,0.00f,0.45f,0.05f,0.55f,0.50f,0.55f,0.15f,0.00f,0.10f,0.60f,0.95f,1.00f,0.40f,0.15f,0.95f,0.80f,1.30f,0.05f,0.80f,0.30f,0.25f,0.65f,0.25f,0.65f,0.50f,0.70f,0.85f,0.60f,0.70f,0.40f,0.35f,0.85f,0.90f,0.05f,0.25f,0.35f,0.80f,1.00f,0.95f,1.20f,0.30f,1.00f,0.25f,0.10f,0.95f,0.25f,0.70f,0.05f,0.75f,0.90f,0.25f,0.40f,0.35f,0.75f,0.25f,0.15f,0.45f,0.30f,0.85f,0.25f,0.50f,0.95f,0.65f,0.85f,0.95f,0.75f,0.70f,1.25f,1.30f,0.45f,0.05f,0.30f,0.15f,0.40f,0.15f,0.60f,0.40f,0.90f,1.25f,0.85f,0.25f,0.60f,0.90f,0.40f,0.55f,0.25f,0.45f,0.40f,0.25f,0.50f,0.30f,0.35f,0.50f,0.75f,0.35f,0.90f,0.85f,0.05f,0.25f,0.75f,0.10f,0.35f,0.75f,0.70f,0.60f,0.70f,0.20f,0.35f,0.70f,0.90f,0.55f,0.30f,0.05f,0.70f,0.00f,0.35f,0.55f,0.90f,0.10f,0.40f,0.00f,0.35f,0.60f,0.30f,0.20f,0.10f,0.60f,0.70f,0.65f,0.95f,0.00f,0.65f,0.60f,0.60f,0.95f,0.00f,0.70f,0.80f,0.50f,0.35f,0.80f,0.10f,0.45f,0.50f,0.70f,0.10f,0.25f,0.70f,0.90f,1.20f,0.90f,0.45f,1.00f,0.85f,0.50f,0.90f,0.55f,0.90f,1.15f,1.25f,1.20f,0.35f,0.45f,0.40f,0.95f,0.30f,0.15f,0.90f,0.45f,1.20f,0.45f,0.95f,0.75f,0.40f,0.70f,0.25f,0.05f,0.05f,0.05f,0.90f,1.05f,1.20f,0.95f,0.85f,0.60f,1.00f,0.35f,0.45f,0.40f,1.00f,0.15f,0.35f,0.70f,0.05f,0.60f,0.50f,0.30f,0.25f,0.50f,0.35f,0.45f,0.35f,0.95f,0.15f,0.10f,0.35f,0.60f,0.65f,0.40f,1.00f,0.35f,0.70f,0.65f,0.80f,1.00f,0.90f,0.75f,0.70f,0.35f,0.15f,0.05f,0.25f,0.45f,0.50f,0.75f,0.95f,0.10f,0.10f,0.60f,0.75f,0.85f,0.95f,1.00f,0.40f,0.40f,0.15f,0.70f,0.65f,0.85f,0.10f,0.50f,0.60f,0.25f,0.15f,0.85f,0.05f,0.45f,0.10f,0.45f,1.00f,0.40f,0.85f,0.10f,0.25f,0.40f,0.40f,0.65f,0.35f,0.70f,0.65f,0.40f,0.45f,0.60f,0.05f,0.80f,0.65f,0.75f,0.55f,0.10f,0.40f,0.40f,0.30f,0.05f,0.75f,0.10f,0.60f,0.70f,0.65f,0.95f,0.10f,0.85f,0.05f,0.55f,0.40f,0.50f,0.35f,0.20f];
    const string Gts = "000000000000011100000000111000000001110000000000010000000000000000000000000001100000000011000000000000000000010000000000000000000000000000000000000000000000011111000000111110000001111100000011111000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000";

    static bool[] Bits(string s) => s.Select(c => c == '1').ToArray();

    [Fact]
    public void AurocWithTiesMatchesScikitLearn() =>
        Assert.Equal(0.536917684305744, Auroc.Compute(Scores, Bits(Labels)), 12);

    [Fact]
    public void PixelAurocMatchesScikitLearn() =>
        Assert.Equal(0.8043075245365322, Auroc.Compute(Maps, Bits(Gts)), 12);

    [Fact]
    public void F1MaxMatchesScikitLearnCurve()
    {
        var (f1, threshold) = F1Max.Compute(Scores, Bits(Labels));
        Assert.Equal(0.5058365758754864, f1, 12);
        Assert.Equal(0.1f, threshold);
    }

    [Fact]
    public void F1MaxByHand()
    {
        // Scores 0.9 (pos), 0.8 (neg), 0.7 (pos), 0.1 (neg). Threshold 0.9: P=1, R=½ → F1 = 2/3.
        // 0.8: P=½, R=½ → ½. 0.7: P=2/3, R=1 → 0.8. 0.1: P=½, R=1 → 2/3. Best 0.8 at 0.7.
        var (f1, threshold) = F1Max.Compute([0.9f, 0.8f, 0.7f, 0.1f], [true, false, true, false]);
        Assert.Equal(0.8, f1, 12);
        Assert.Equal(0.7f, threshold);
    }

    [Fact]
    public void AuproByHand()
    {
        // One 1x4 image, mask 1 1 0 0 (one region of 2 pixels), scores 0.9 0.1 0.5 0.2.
        // Thresholds from the top: 0.9 → FPR 0, PRO ½; 0.5 → FPR ½, PRO ½; 0.2 → FPR 1, PRO ½; 0.1 → (1, 1).
        // Curve (0,0) (0,½) (½,½) ...: up to FPR 0.3 the area is 0.3 · ½ (PRO interpolated at 0.3 is ½) → /0.3 = ½.
        Assert.Equal(0.5, Aupro.Compute([0.9f, 0.1f, 0.5f, 0.2f], [true, true, false, false], 1, 1, 4), 12);
        // 8-connectivity: 3x3 image, mask pixels A=(0,0), B=(0,1) and C=(1,2); C touches B only diagonally, so
        // {A,B,C} is ONE region of 3 pixels (4-connectivity would give {A,B} and {C}). Scores: C 0.9, one normal
        // pixel 0.5, B 0.3, A 0.2, the other 5 normal pixels 0.05 (6 normal pixels in all).
        // Points (FPR, PRO): 0.9 → (0, 1/3); 0.5 → (1/6, 1/3); 0.3 → (1/6, 2/3); 0.2 → (1/6, 1); 0.05 → (1, 1).
        // Area to 0.3: 1/6 · 1/3 + (0.3 − 1/6) · 1 = 1/18 + 2/15 = 17/90 → /0.3 = 17/27.
        // (Two regions would give PRO ½ after C: 1/12 + 2/15 = 13/60 → 13/18.)
        Assert.Equal(17.0 / 27, Aupro.Compute([0.2f, 0.3f, 0.05f, 0.05f, 0.5f, 0.9f, 0.05f, 0.05f, 0.05f],
            [true, true, false, false, false, true, false, false, false], 1, 3, 3), 12);
    }

    [Fact]
    public void AuproMatchesMvtecDefinition()
    {
        Assert.Equal(0.5081540936985482, Aupro.Compute(Maps, Bits(Gts), 3, 9, 11), 10);
        Assert.Equal(0.8243797709923664, Aupro.Compute(Maps, Bits(Gts), 3, 9, 11, fprLimit: 1.0), 10);
    }
}
