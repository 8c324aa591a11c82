public class Actor
{
    public int Add(int a, int b) => a + c;
    public string Name() => 42;
}
