#include <cstdio>
int main() { std::puts("seedtune: under construction"); return 0; }
