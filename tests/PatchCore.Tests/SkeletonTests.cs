using PatchCore.Tensors;

namespace PatchCore.Tests;

public class SkeletonTests
{
    [Fact]
    public void TensorRejectsWrongLength() =>
        Assert.Throws<ArgumentException>(() => new Tensor(new float[5], 2, 3));

    [Fact]
    public void SharedDataIsBesideTheCheckout() =>
        Assert.True(Directory.Exists(Path.Combine(TestPaths.SharedData, "mvtec256", "transistor")), TestPaths.SharedData);
}
