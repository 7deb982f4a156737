/*{
    "ISFVSN": "2",
    "DESCRIPTION": "Waveform and spectrum inputs (hypna test file)",
    "CATEGORIES": ["Generator", "Audio"],
    "INPUTS": [
        {"NAME": "wave", "TYPE": "audio", "MAX": 256},
        {"NAME": "spectrum", "TYPE": "audioFFT", "MAX": 64},
        {"NAME": "gain", "TYPE": "float", "DEFAULT": 1.0, "MIN": 0.0, "MAX": 4.0}
    ]
}*/

void main() {
    vec2 p = isf_FragNormCoord;
    float w = IMG_NORM_PIXEL(wave, vec2(p.x, 0.5)).r;
    float f = IMG_NORM_PIXEL(spectrum, vec2(p.x, 0.5)).r * gain;
    float line = smoothstep(0.01, 0.0, abs(p.y - w));
    float bar = step(p.y, f);
    gl_FragColor = vec4(line, bar, 0.5 * bar + 0.2, 1.0);
}
