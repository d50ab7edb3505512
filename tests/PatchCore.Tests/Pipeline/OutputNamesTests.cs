using PatchCore.Pipeline;

namespace PatchCore.Tests.Pipeline;

public class OutputNamesTests
{
    [Fact]
    public void StemsKeepFoldersAndLaterCollisionsGetNumberedSuffixes()
    {
        var stems = OutputNames.UniqueStems(["F/a/000.png", "G/a/000.png", "F/a/000.jpg", "F/A/000.PNG", "F/a/000_2.png", "x.png", "noext"]);
        Assert.Equal(["F/a/000", "G/a/000", "F/a/000_2", "F/A/000_3", "F/a/000_2_2", "x", "noext"], stems);
    }

    [Fact]
    public void AFileUnderAFolderArgumentKeepsTheFolderNameAndItsSubfolders()
    {
        string root = TestPaths.TempDir();
        string folder = Path.Combine(root, "line1");
        Assert.Equal("line1/cam/b.png", OutputNames.ForInput(Path.Combine(folder, "cam", "b.png"), folder));
        Assert.Equal("line1/b.png", OutputNames.ForInput(Path.Combine(folder, "b.png"), folder + Path.DirectorySeparatorChar));
        Assert.Equal("b.png", OutputNames.ForInput(Path.Combine(folder, "sub", "b.png"), null));
    }
}
