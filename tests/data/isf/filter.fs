/*{
    "ISFVSN": "2",
    "DESCRIPTION": "An image filter using every IMG_ function (hypna test file)",
    "CATEGORIES": ["Filter"],
    "INPUTS": [
        {"NAME": "inputImage", "TYPE": "image"},
        {"NAME": "amount", "TYPE": "float", "DEFAULT": 0.5, "MIN": 0.0, "MAX": 1.0}
    ]
}*/

void main() {
    vec4 here = IMG_THIS_PIXEL(inputImage);
    vec4 norm = IMG_THIS_NORM_PIXEL(inputImage);
    vec2 size = IMG_SIZE(inputImage);
    vec4 right = IMG_PIXEL(inputImage, gl_FragCoord.xy + vec2(1.0, 0.0));
    vec4 mirrored = IMG_NORM_PIXEL(inputImage, vec2(1.0 - isf_FragNormCoord.x, isf_FragNormCoord.y));
    vec4 edge = abs(right - here) * size.x / max(size.x, 1.0);
    gl_FragColor = mix(0.5 * (here + norm), mirrored + edge, amount);
}
