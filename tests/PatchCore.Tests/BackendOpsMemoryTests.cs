using PatchCore.Backends;

namespace PatchCore.Tests;

/// <summary>The recycled output arrays of the fast CPU backend: a disposed tensor's array is reused, a
/// double Dispose never hands one array to two live tensors, small tensors are not pooled.</summary>
public class BackendOpsMemoryTests
{
    [Fact]
    public void RentedArraysAreRecycledOnceAndOnlyOnce()
    {
        int[] shape = [1, 7, 97, 101]; // a length no other test uses, so the pool bucket is ours
        var a = HostMemory.Rent(shape);
        var data = a.Data;
        a.Dispose();
        a.Dispose(); // second Dispose must not return the array again
        var b = HostMemory.Rent(shape);
        var c = HostMemory.Rent(shape);
        Assert.Same(data, b.Data);
        Assert.NotSame(b.Data, c.Data);
        Assert.Equal(7 * 97 * 101, c.Data.Length);
        b.Dispose(); c.Dispose();
        var small = HostMemory.Rent([3, 5]);
        var smallData = small.Data;
        small.Dispose();
        Assert.NotSame(smallData, HostMemory.Rent([3, 5]).Data);
    }
}
