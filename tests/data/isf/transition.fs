/*{
    "ISFVSN": "2",
    "DESCRIPTION": "A wipe with a soft edge: the ISF transition convention (hypna test file)",
    "CATEGORIES": ["Transition"],
    "INPUTS": [
        {"NAME": "startImage", "TYPE": "image"},
        {"NAME": "endImage", "TYPE": "image"},
        {"NAME": "progress", "TYPE": "float", "DEFAULT": 0.0, "MIN": 0.0, "MAX": 1.0},
        {"NAME": "softness", "TYPE": "float", "DEFAULT": 0.1, "MIN": 0.0, "MAX": 0.5}
    ]
}*/

void main() {
    float edge = progress * (1.0 + 2.0 * softness) - softness;
    float t = smoothstep(edge - softness, edge + softness, isf_FragNormCoord.x);
    gl_FragColor = mix(IMG_THIS_PIXEL(endImage), IMG_THIS_PIXEL(startImage), t);
}
