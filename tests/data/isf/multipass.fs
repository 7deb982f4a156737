/*{
    "ISFVSN": "2",
    "DESCRIPTION": "Passes: a small float buffer, a persistent accumulator, the output (hypna test file)",
    "CATEGORIES": ["Generator"],
    "INPUTS": [
        {"NAME": "decay", "TYPE": "float", "DEFAULT": 0.95, "MIN": 0.0, "MAX": 1.0}
    ],
    "PASSES": [
        {"TARGET": "small", "WIDTH": "floor($WIDTH/4.0)", "HEIGHT": "max($HEIGHT/4.0, 1.0)", "FLOAT": true},
        {"TARGET": "trail", "PERSISTENT": true, "FLOAT": true},
        {}
    ]
}*/

void main() {
    if (PASSINDEX == 0) {
        vec2 p = isf_FragNormCoord - vec2(0.5 + 0.3 * cos(TIME), 0.5 + 0.3 * sin(TIME));
        gl_FragColor = vec4(vec3(exp(-dot(p, p) * 60.0)), 1.0);
    } else if (PASSINDEX == 1) {
        vec4 previous = IMG_THIS_NORM_PIXEL(trail);
        vec4 spot = IMG_NORM_PIXEL(small, isf_FragNormCoord);
        gl_FragColor = max(previous * decay, spot);
    } else {
        gl_FragColor = IMG_THIS_PIXEL(trail) * vec4(0.3, 0.8, 1.0, 1.0);
    }
}
