#if __VERSION__ <= 120
varying vec2 offsets[3];
varying mat2 spin;
#else
out vec2 offsets[3];
out mat2 spin;
#endif

void main() {
    isf_vertShaderInit();
    vec2 step = vec2(radius / RENDERSIZE.x, 0.0);
    offsets[0] = isf_FragNormCoord - step;
    offsets[1] = isf_FragNormCoord;
    offsets[2] = isf_FragNormCoord + step;
    float a = 0.3 * sin(TIME);
    spin = mat2(cos(a), sin(a), -sin(a), cos(a));
}
